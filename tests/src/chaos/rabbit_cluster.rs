//! Three RabbitMQ nodes of our own on this machine (their own node names, ports and data
//! directories), joined into one cluster, that a test may stop, start and partition one node
//! at a time. They run with `cluster_partition_handling = pause_minority`, as docs/operations.md
//! recommends for three nodes: a node cut off from the majority closes its clients'
//! connections until it sees the others again.
use std::time::Duration;

use anyhow::{bail, Context};

use super::services::PrivateRabbit;

/// How long the quorum queues' members may take to be back after a node returns.
const ONLINE_PATIENCE: Duration = Duration::from_secs(90);

/// The cookie a partitioned node expects from the others: wrong, so that they can no longer
/// talk (the distribution handshake fails both ways) until it is healed.
const PARTITION_COOKIE: &str = "hookline-partitioned";

/// The cluster; every node is stopped and removed on drop.
pub struct RabbitCluster {
    nodes: Vec<PrivateRabbit>,
}

impl RabbitCluster {
    /// Starts `size` nodes and joins the others to the first.
    pub async fn start(size: usize) -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut nodes = Vec::new();
        for number in 1..=size {
            let name = format!("hookline-cluster-{}-{number}@localhost", &id[..8]);
            nodes.push(PrivateRabbit::create(
                &name,
                "cluster_partition_handling = pause_minority\n",
            )?);
        }
        futures::future::try_join_all(nodes.iter().map(PrivateRabbit::up))
            .await
            .context("starting the RabbitMQ nodes")?;
        let cluster = Self { nodes };
        let first = cluster.nodes[0].node().to_owned();
        for node in &cluster.nodes[1..] {
            node.ctl(&["stop_app"])?;
            node.ctl(&["join_cluster", &first])
                .with_context(|| format!("joining {} to {first}", node.node()))?;
            node.ctl(&["start_app"])?;
            super::services::wait_for_port("a joined RabbitMQ node", node.port()).await?;
        }
        let status = cluster.nodes[0].ctl(&["cluster_status"])?;
        for node in &cluster.nodes {
            anyhow::ensure!(
                status.contains(node.node()),
                "{} is not in the cluster: {status}",
                node.node()
            );
        }
        Ok(cluster)
    }

    /// One AMQP URL per node, in order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(PrivateRabbit::url).collect()
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: a cluster has nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node's name, for the report.
    pub fn name(&self, index: usize) -> &str {
        self.nodes[index].node()
    }

    /// Which node leads `queue` (a quorum queue), asked of the first node that answers.
    pub fn leader_of(&self, queue: &str) -> anyhow::Result<usize> {
        let (_, line) = self.queue_info(queue, "leader", None)?;
        self.nodes
            .iter()
            .position(|node| line.contains(node.node()))
            .with_context(|| format!("no node of ours leads {queue}: {line}"))
    }

    /// How many of `queue`'s members are online, asked of a node other than `not` (the one
    /// just stopped or partitioned).
    pub fn members_online(&self, queue: &str, not: Option<usize>) -> anyhow::Result<usize> {
        let (_, line) = self.queue_info(queue, "online", not)?;
        Ok(self
            .nodes
            .iter()
            .filter(|node| line.contains(node.node()))
            .count())
    }

    /// Waits until every node's member of each of `queues` is online again.
    pub async fn wait_all_online(&self, queues: &[String]) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + ONLINE_PATIENCE;
        for queue in queues {
            loop {
                let online = self.members_online(queue, None).unwrap_or_default();
                if online == self.nodes.len() {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "{queue} has {online} of {} members online after {ONLINE_PATIENCE:?}",
                        self.nodes.len()
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(())
    }

    /// Stops node `index` whole (its Erlang VM too).
    pub fn stop(&self, index: usize) -> anyhow::Result<()> {
        self.nodes[index].down()
    }

    /// Starts node `index` again and waits for its AMQP port.
    pub async fn start_node(&self, index: usize) -> anyhow::Result<()> {
        self.nodes[index].up().await
    }

    /// Cuts node `index` off from every other node: it expects a cookie they do not have,
    /// and drops its connections to them. The others see it go down; it sees itself in a
    /// minority and pauses (closing its clients' connections).
    pub fn partition(&self, index: usize) -> anyhow::Result<()> {
        let others = self.others(index);
        let expression = format!(
            "[begin erlang:set_cookie(N, '{PARTITION_COOKIE}'), erlang:disconnect_node(N) end || N <- [{others}]], ok."
        );
        self.nodes[index].ctl(&["eval", &expression]).map(drop)
    }

    /// Ends [`RabbitCluster::partition`]: the node takes the cluster's cookie for the others
    /// again and reconnects; it resumes once it sees the majority.
    pub fn heal(&self, index: usize) -> anyhow::Result<()> {
        let others = self.others(index);
        let expression = format!(
            "[begin erlang:set_cookie(N, erlang:get_cookie()), net_adm:ping(N) end || N <- [{others}]], ok."
        );
        self.nodes[index].ctl(&["eval", &expression]).map(drop)
    }

    /// The other nodes' names as an Erlang list's elements.
    fn others(&self, index: usize) -> String {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, node)| format!("'{}'", node.node()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `rabbitmqctl list_queues name {item}` on the first node (not `not`) that answers; the
    /// answering node and `queue`'s line.
    fn queue_info(
        &self,
        queue: &str,
        item: &str,
        not: Option<usize>,
    ) -> anyhow::Result<(usize, String)> {
        let mut last_error = None;
        for (index, node) in self.nodes.iter().enumerate() {
            if Some(index) == not {
                continue;
            }
            let listed = node.ctl(&[
                "list_queues",
                "--quiet",
                "--no-table-headers",
                "--timeout",
                "10",
                "name",
                item,
            ]);
            match listed {
                Ok(text) => {
                    let line = text
                        .lines()
                        .find(|line| line.split_whitespace().next() == Some(queue))
                        .with_context(|| format!("{} lists no queue {queue}", node.node()))?;
                    return Ok((index, line.to_owned()));
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no node to ask")))
    }
}
