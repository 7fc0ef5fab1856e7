mod lists;
mod not_found;
mod overview;
mod queue;
mod queue_charts;
mod task;
mod workers;

pub use lists::{Queues, Tasks};
pub use not_found::NotFound;
pub use overview::Overview;
pub use queue::Queue;
pub use task::Task;
pub use workers::Workers;
