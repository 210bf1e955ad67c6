//! The engine's promises, one module per fault, in one test binary. The tests share the local
//! broker and database, and some stop them or own the fixed ports of the replicated servers,
//! so each takes its [`turn`](vote_reliability::turn) and they run one at a time; the property
//! tests of `decode_props` need no server and run beside them.

mod amqps;
mod broker_cut;
mod broker_failover;
mod broker_partition;
mod broker_restart;
mod consumer_stall;
mod database_failover;
mod database_outage;
mod decode_props;
mod hostile_input;
mod kill;
mod least_privilege;
mod metrics_cardinality;
mod poison;
mod postgres_ha;
mod postgres_tls;
mod revotes;
mod secrets;
mod sharded_intake;
mod sigterm;
mod soak;
mod two_engines;
mod vote_batches;
