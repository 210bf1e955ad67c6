//! The broker plumbing against a real RabbitMQ: the bulk consumer, the satellites' consumer loop
//! and the topology; one test binary.

mod bulk;
mod consumer;
mod topology;
