//! Counting what a consumer did for its heartbeats (funboost's 10 s windows and totals). The
//! record itself is [`protocol::heartbeat::Heartbeat`].

pub use protocol::heartbeat::Heartbeat;

/// Task counts over funboost's 10 s windows and since start.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    window_start: f64,
    window_count: u64,
    window_fail: u64,
    window_cost: f64,
    last_count: u64,
    last_fail: u64,
    last_cost: f64,
    last_window_end: f64,
    /// Tasks finished since start.
    pub total: u64,
    /// Of them, failed.
    pub total_fail: u64,
    /// Seconds spent running them.
    pub total_cost: f64,
    /// When the last one finished (epoch seconds).
    pub last_task_time: f64,
}

/// funboost's counting window, in seconds.
pub const WINDOW: f64 = 10.0;

impl Counters {
    /// Counting from `now` (epoch seconds).
    pub fn new(now: f64) -> Counters {
        Counters {
            window_start: now,
            last_window_end: now,
            ..Default::default()
        }
    }

    fn roll(&mut self, now: f64) {
        if now - self.window_start >= WINDOW {
            self.last_count = self.window_count;
            self.last_fail = self.window_fail;
            self.last_cost = self.window_cost;
            self.last_window_end = now;
            self.window_start = now;
            self.window_count = 0;
            self.window_fail = 0;
            self.window_cost = 0.0;
        }
    }

    /// Counts a finished task that ran `cost` seconds.
    pub fn record(&mut self, now: f64, cost: f64, failed: bool) {
        self.roll(now);
        self.window_count += 1;
        self.window_cost += cost;
        self.total += 1;
        self.total_cost += cost;
        self.last_task_time = now;
        if failed {
            self.window_fail += 1;
            self.total_fail += 1;
        }
    }

    /// Fills the counting fields of a heartbeat.
    pub fn fill(&mut self, hb: &mut Heartbeat, now: f64) {
        self.roll(now);
        hb.unit_time_for_count = WINDOW as u64;
        hb.last_x_s_execute_count = self.last_count;
        hb.last_x_s_execute_count_fail = self.last_fail;
        hb.last_x_s_total_cost_time = self.last_cost;
        hb.last_x_s_avarage_function_spend_time =
            (self.last_count > 0).then(|| round4(self.last_cost / self.last_count as f64));
        hb.current_time_for_execute_task_times_every_unit_time = self.last_window_end;
        hb.last_execute_task_time = self.last_task_time;
        hb.total_consume_count_from_start = self.total;
        hb.total_consume_count_from_start_fail = self.total_fail;
        hb.total_cost_time_from_start = self.total_cost;
        hb.avarage_function_spend_time_from_start =
            (self.total > 0).then(|| round4(self.total_cost / self.total as f64));
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}
