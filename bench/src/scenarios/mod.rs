//! The scenarios behind the subcommands.
pub mod all;
pub mod ceiling;
pub mod e2e;
pub mod embedded;
pub mod ingress;
pub mod large;
pub mod peer;

use crate::cli::{Command, RuntimeArgs};
use crate::load::Pace;

/// Runs one subcommand and prints its report on standard output.
pub async fn run(command: Command, runtime: RuntimeArgs) -> anyhow::Result<()> {
    match command {
        Command::Ceiling(args) => {
            let pace = args.rate.map_or(Pace::Closed, |rate| Pace::Open { rate });
            let result = ceiling::run(&args.ceiling, pace).await?;
            println!("{}", ceiling::report(&result));
        }
        Command::Ingress(args) => {
            let pace = args.rate.map_or(Pace::Closed, |rate| Pace::Open { rate });
            let result = ingress::run(&args.load, pace, runtime, args.protocol).await?;
            println!("{}", ingress::report(&result));
        }
        Command::Peer(args) => {
            let pace = args.rate.map_or(Pace::Closed, |rate| Pace::Open { rate });
            for &processes in &args.processes {
                let result = peer::run(&args.load, pace, processes, runtime.load_threads).await?;
                println!("{}\n", peer::report(&result));
            }
        }
        Command::E2e(args) => e2e::command(&args).await?,
        Command::LargeBodies(args) => {
            let result = large::run(&args).await?;
            println!("{}", large::report(&result));
        }
        Command::Embedded(args) => embedded::run(&args, runtime.load_threads).await?,
        Command::All(args) => all::run(&args, runtime).await?,
    }
    Ok(())
}
