"""Stream funboost task records to taskdeck: every attempt's "running" record and the final one,
with the start, end and exception of each attempt once a task is retried.

Add one argument to your boosters::

    from taskdeck_funboost import TaskdeckConsumerMixin

    @boost(BoosterParams(queue_name="orders", broker_kind=BrokerEnum.REDIS_ACK_ABLE,
                         consumer_override_cls=TaskdeckConsumerMixin))
    def process_order(order_id): ...

Records are the status dicts funboost saves to MongoDB (``FunctionResultStatus``), sent to
taskdeck's Redis stream ``taskdeck:events`` (``XADD taskdeck:events * event <json>``) on the Redis
named by ``TASKDECK_REDIS_URL`` (e.g. ``redis://10.0.0.5:6379/0``; the same Redis and database
taskdeck's ``--redis`` names), or, when ``TASKDECK_INGEST_URL`` is set instead
(``http://taskdeck:3000``), POSTed to taskdeck's ``/api/v1/events`` as NDJSON with the API token
in ``TASKDECK_INGEST_TOKEN`` (scope ``ingest``: ``taskdeck token create --scope ingest --name
workers``).

The task thread only queues the record; a background thread sends batches (up to 500 records
or every 50 ms), retries while taskdeck or Redis is unreachable, and flushes at exit. A full
queue (100,000 records) makes task threads wait rather than drop records. MongoDB persistence,
if enabled, keeps working unchanged. Requires only funboost (it brings redis-py).
"""
import atexit
import json
import logging
import os
import queue
import threading
import time
import urllib.request

__all__ = ["TaskdeckConsumerMixin"]

STREAM = "taskdeck:events"
BATCH = 500
LINGER = 0.05
log = logging.getLogger("taskdeck_funboost")


class _Sender:
    """One per process: a bounded queue drained by a daemon thread."""

    def __init__(self):
        self.queue = queue.Queue(maxsize=100_000)
        self.redis_url = os.environ.get("TASKDECK_REDIS_URL")
        self.http_url = os.environ.get("TASKDECK_INGEST_URL")
        self.http_token = os.environ.get("TASKDECK_INGEST_TOKEN", "")
        if not self.redis_url and not self.http_url:
            raise RuntimeError("taskdeck_funboost: set TASKDECK_REDIS_URL or TASKDECK_INGEST_URL")
        if self.http_url and not self.redis_url and not self.http_token:
            raise RuntimeError("taskdeck_funboost: TASKDECK_INGEST_URL needs TASKDECK_INGEST_TOKEN "
                               "(taskdeck token create --scope ingest --name workers)")
        self.client = None
        if self.redis_url:
            try:
                import redis5 as redis_lib  # the client funboost itself uses
            except ImportError:  # pragma: no cover
                import redis as redis_lib
            self.client = redis_lib.Redis.from_url(self.redis_url, socket_timeout=10)
        self.thread = threading.Thread(target=self._run, name="taskdeck-records", daemon=True)
        self.thread.start()
        atexit.register(self.flush)

    def put(self, record):
        self.queue.put(json.dumps(record, default=str, ensure_ascii=False))

    def _send(self, batch):
        if self.client is not None:
            pipe = self.client.pipeline(transaction=False)
            for event in batch:
                pipe.xadd(STREAM, {"event": event})
            pipe.execute()
        else:
            body = ("\n".join(batch) + "\n").encode()
            req = urllib.request.Request(self.http_url.rstrip("/") + "/api/v1/events", data=body,
                                         headers={"Content-Type": "application/x-ndjson",
                                                  "Authorization": "Bearer " + self.http_token})
            with urllib.request.urlopen(req, timeout=30) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"taskdeck answered {resp.status}")

    def _run(self):
        while True:
            batch = [self.queue.get()]
            deadline = time.monotonic() + LINGER
            while len(batch) < BATCH:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self.queue.get(timeout=left))
                except queue.Empty:
                    break
            delay = 0.1
            while True:
                try:
                    self._send(batch)
                    break
                except Exception as e:  # keep the records, try again
                    log.warning("sending %d task records to taskdeck failed (%s); retrying in %.1f s",
                                len(batch), e, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
            for _ in batch:
                self.queue.task_done()

    def flush(self, timeout=10.0):
        """Waits until every queued record is sent (at most `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)


_sender = None
_sender_lock = threading.Lock()


def _get_sender():
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = _Sender()
        return _sender


def _record(status):
    d = status.get_status_dict(without_datetime_obj=True, is_return_unstrict_dict=True)
    if d.get("run_status") == "finish" and getattr(status, "_has_kill_task", False):
        d["state"] = "killed"
    # funboost saves "running" right before each attempt: that instant is the attempt's start.
    attempts = status.__dict__.setdefault("_taskdeck_attempts", [])
    if d.get("run_status") == "running":
        attempts.append({"n": d.get("run_times") or len(attempts) + 1, "start": time.time()})
    if len(attempts) > 1:  # a task that ran once is described by its record alone
        d["attempts"] = [dict(a) for a in attempts]
    return d


def _end_attempt(status):
    """Closes the attempt funboost just ran, with how it ended."""
    attempts = status.__dict__.get("_taskdeck_attempts")
    if not attempts or "end" in attempts[-1]:
        return
    last = attempts[-1]
    last["end"] = max(time.time(), last["start"])
    if status.success:
        last["state"] = "success"
    elif getattr(status, "_has_kill_task", False):
        last["state"] = "killed"
    elif getattr(status, "_has_requeue", False):
        last["state"] = "pending"  # given back to the queue
    else:
        last["state"] = "failed"
        if status.exception_type:
            last["exception_type"] = status.exception_type
            last["exception_msg"] = status.exception_msg


class _Forwarding:
    """Wraps funboost's result persistence helper: every save (running, then finish) is also
    a record for taskdeck."""

    def __init__(self, inner):
        self._inner = inner

    def save_function_result_to_mongo(self, status):
        try:
            _get_sender().put(_record(status))
        except Exception:  # never break the task path
            log.exception("taskdeck_funboost: record not queued")
        return self._inner.save_function_result_to_mongo(status)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class TaskdeckConsumerMixin:
    """funboost ``consumer_override_cls``: streams records to taskdeck, with each attempt of a
    retried task."""

    def _run_consuming_function_with_confirm_and_retry(self, kw, current_retry_times, function_result_status):
        status = super()._run_consuming_function_with_confirm_and_retry(
            kw, current_retry_times=current_retry_times, function_result_status=function_result_status)
        _end_attempt(status)
        return status

    async def _async_run_consuming_function_with_confirm_and_retry(self, kw, current_retry_times,
                                                                   function_result_status):
        status = await super()._async_run_consuming_function_with_confirm_and_retry(
            kw, current_retry_times=current_retry_times, function_result_status=function_result_status)
        _end_attempt(status)
        return status

    @property
    def _result_persistence_helper(self):
        return self.__dict__["_taskdeck_helper"]

    @_result_persistence_helper.setter
    def _result_persistence_helper(self, helper):
        self.__dict__["_taskdeck_helper"] = _Forwarding(helper)
