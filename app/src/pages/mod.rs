mod failures;
mod lists;
mod not_found;
mod overview;
mod queue;
mod queue_charts;
mod task;
mod tasks;
mod workers;

pub use failures::Failures;
pub use lists::Queues;
pub use not_found::NotFound;
pub use overview::Overview;
pub use queue::Queue;
pub use task::Task;
pub use tasks::Tasks;
pub use workers::Workers;
