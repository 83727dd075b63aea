//! The two ways the pipeline runs, and a macro that runs one scenario in both.

/// Which backing services the pipeline uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// RabbitMQ and a fresh PostgreSQL database, as separate services would.
    Broker,
    /// SQLite and the table-backed local queue in a scratch data directory.
    Embedded,
}

/// Turns `async fn scenario(mode: Mode)` functions into one test per mode:
/// `broker::scenario` and `embedded::scenario`.
#[macro_export]
macro_rules! in_both_modes {
    ($($scenario:ident),+ $(,)?) => {
        mod broker {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Mode::Broker).await;
                }
            )+
        }

        mod embedded {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Mode::Embedded).await;
                }
            )+
        }
    };
}
