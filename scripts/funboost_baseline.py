"""The baseline: funboost's own way of saving task status into MongoDB.

funboost (core/function_result_status_saver.py, is_use_bulk_insert=True) keeps one
`ReplaceOne({'_id': task_id}, status_dict, upsert=True)` per status write and flushes them as
an unordered `bulk_write` every 0.5 s, into a collection per queue carrying its six indexes.
This replays the benchmark's events (NDJSON from `taskdeck bench export`) the same way, as
fast as the server takes them, and prints the rate.

Usage: python funboost_baseline.py EVENTS.ndjson MONGODB_URL DATABASE
"""
import datetime
import json
import sys
import time

from pymongo import ASCENDING, DESCENDING, MongoClient, ReplaceOne, TEXT

BATCH = 1000  # what 0.5 s of a busy funboost worker accumulates, at ~2,000 writes/s


def main() -> None:
    path, url, database = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(path) as f:
        events = [json.loads(line) for line in f]
    db = MongoClient(url)[database]
    queues = sorted({e["queue_name"] for e in events})
    for q in queues:
        c = db[q]
        c.create_index([("queue_name", ASCENDING)])
        c.create_index([("insert_time_str", DESCENDING)])
        c.create_index([("insert_time", DESCENDING)])
        try:
            c.create_index([("params_str", TEXT)])
        except Exception as e:  # the test server has no text indexes
            print(f"  (no text index on {q}: {e.__class__.__name__})")
        c.create_index([("success", ASCENDING)])
        c.create_index([("time_cost", DESCENDING)])
        c.create_index([("utime", ASCENDING)], expireAfterSeconds=7 * 86400)
    started = time.perf_counter()
    pending = {}
    for n, e in enumerate(events, 1):
        now = datetime.datetime.now(datetime.timezone.utc)
        doc = dict(e, _id=e["task_id"], insert_time=now, utime=now)
        pending.setdefault(e["queue_name"], []).append(ReplaceOne({"_id": e["task_id"]}, doc, upsert=True))
        if n % BATCH == 0:
            for q, ops in pending.items():
                db[q].bulk_write(ops, ordered=False)
            pending = {}
    for q, ops in pending.items():
        db[q].bulk_write(ops, ordered=False)
    elapsed = time.perf_counter() - started
    print(f"funboost  bulk ReplaceOne -> mongodb: {len(events)} events in {elapsed:.2f} s = {len(events) / elapsed:>9.0f} events/s")


if __name__ == "__main__":
    main()
