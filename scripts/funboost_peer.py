"""A real funboost 55 peer for taskdeck's interoperability tests.

    funboost_peer.py produce QUEUE N           publish N messages add(x=i, y=1) with funboost's publisher
    funboost_peer.py produce-priority QUEUE N  the same on REDIS_PRIORITY (x-max-priority 4), message i
                                                with priority i % 5
    funboost_peer.py produce-zset QUEUE N      the same on REDIS_ZSET_PRIORITY, message i with
                                                priority (i % 4) * 2.5
    funboost_peer.py consume-zset QUEUE OUT SECONDS
                                                consume REDIS_ZSET_PRIORITY with one thread, in the
                                                order funboost takes messages (as `consume`)
    funboost_peer.py consume QUEUE OUT SECONDS  consume QUEUE for SECONDS with a funboost worker,
                                                appending each finished status dict to OUT (JSON lines)
    funboost_peer.py bench QUEUE N SLEEP_MS THREADS
                                                publish N, time one worker draining them (with the
                                                taskdeck mixin), print "RATE <tasks/s>"
    funboost_peer.py persist QUEUE - SECONDS    consume with funboost's own status saver
                                                (is_save_status, is_save_result) writing to the
                                                MongoDB at FUNBOOST_MONGO_URL; `fail` raises
    funboost_peer.py taskdeck QUEUE - SECONDS   consume with contrib/funboost's TaskdeckConsumerMixin
                                                (records to TASKDECK_REDIS_URL); `fail` in a message
                                                raises ValueError
    funboost_peer.py kind-produce KIND QUEUE N  publish N messages add(x=i, y=1) on funboost's broker
                                                kind KIND (REDIS, REDIS_ACK_ABLE, REDIS_PRIORITY,
                                                REDIS_STREAM, RABBITMQ_AMQPSTORM, …)
    funboost_peer.py kind-consume KIND QUEUE OUT SECONDS
                                                consume on KIND as `consume` does, with heartbeats
                                                in Redis whatever the broker (as funboost's web
                                                manager needs them)
    funboost_peer.py control QUEUE OUT SECONDS  consume step(i, spin) with remote kill on, two threads,
                                                one message pulled at a time and the mixin; each call
                                                appends "<i> <epoch>" to OUT as it starts; `spin` runs a
                                                minute unless killed

Redis comes from FUNBOOST_REDIS_HOST / FUNBOOST_REDIS_PORT and FUNBOOST_REDIS_DB (default 7,
funboost's), RabbitMQ (guest/guest on 127.0.0.1) from FUNBOOST_RABBITMQ_PORT. funboost
reads its settings from a module `funboost_config` on the path; this script writes one (and
nb_log's) into a scratch directory so nothing lands in the repository or the home directory.
"""
import json
import os
import sys
import tempfile
import threading
import time

config_dir = tempfile.mkdtemp(prefix="funboost-peer-")
with open(os.path.join(config_dir, "funboost_config.py"), "w") as f:
    f.write(f"""
from funboost.utils.simple_data_class import DataClassBase
class BrokerConnConfig(DataClassBase):
    REDIS_HOST = {os.environ.get('FUNBOOST_REDIS_HOST', '127.0.0.1')!r}
    REDIS_PORT = {int(os.environ.get('FUNBOOST_REDIS_PORT', '6379'))}
    REDIS_USERNAME = ''
    REDIS_PASSWORD = ''
    REDIS_SSL = False
    REDIS_DB = {int(os.environ.get('FUNBOOST_REDIS_DB', '7'))}
    REDIS_DB_FILTER_AND_RPC_RESULT = 8
    MONGO_CONNECT_URL = {os.environ.get('FUNBOOST_MONGO_URL', 'mongodb://127.0.0.1:27017')!r}
    RABBITMQ_USER = 'guest'
    RABBITMQ_PASS = 'guest'
    RABBITMQ_HOST = '127.0.0.1'
    RABBITMQ_PORT = {int(os.environ.get('FUNBOOST_RABBITMQ_PORT', '5672'))}
    RABBITMQ_VIRTUAL_HOST = '/'
    RABBITMQ_URL = f'amqp://guest:guest@127.0.0.1:{{RABBITMQ_PORT}}/'
class FunboostCommonConfig(DataClassBase):
    TIMEZONE = 'UTC'
    SHOW_HOW_FUNBOOST_CONFIG_SETTINGS = False
""")
with open(os.path.join(config_dir, "nb_log_config.py"), "w") as f:
    f.write(f"""
from nb_log.nb_log_config_default import *
LOG_PATH = {config_dir!r}
AUTO_PATCH_PRINT = False
SHOW_PYCHARM_COLOR_SETINGS = False
SHOW_NB_LOG_LOGO = False
SHOW_IMPORT_NB_LOG_CONFIG_PATH = False
DEFAULUT_USE_COLOR_HANDLER = False
ROOT_LOGGER_FILENAME = None
ROOT_LOGGER_FILENAME_ERROR = None
""")
sys.path.insert(1, config_dir)
os.environ["LOG_PATH"] = config_dir

from funboost import boost, BoosterParams, BrokerEnum, FunctionResultStatusPersistanceConfig  # noqa: E402

mode, queue = sys.argv[1], sys.argv[2]
kind_name = None
if mode in ("kind-produce", "kind-consume"):
    # kind-produce KIND QUEUE N / kind-consume KIND QUEUE OUT SECONDS
    kind_name, queue = sys.argv[2], sys.argv[3]
    del sys.argv[2]
out_path = sys.argv[3] if mode in ("consume", "consume-zset", "kind-consume") else None
override = None
if mode in ("taskdeck", "bench", "control"):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contrib", "funboost"))
    from taskdeck_funboost import TaskdeckConsumerMixin, _get_sender  # noqa: E402
    override = TaskdeckConsumerMixin
lock = threading.Lock()


def record(status):
    d = status.get_status_dict(without_datetime_obj=True, is_return_unstrict_dict=True)
    with lock, open(out_path, "a") as out:
        out.write(json.dumps(d, default=str) + "\n")


# FUNBOOST_PULL_BATCH=1 makes the worker take one message at a time (default: funboost's 100),
# so that it shares a queue fairly with other consumers in tests.
exclusive = {"pull_msg_batch_size": int(os.environ["FUNBOOST_PULL_BATCH"])} if "FUNBOOST_PULL_BATCH" in os.environ else {}

if mode == "bench":
    # bench QUEUE N SLEEP_MS THREADS: publish N, then time one worker draining them with every
    # record sent to taskdeck; prints "RATE <tasks/s>".
    n, sleep_ms, threads = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    done = [0]

    def count(status):
        with lock:
            done[0] += 1

    @boost(BoosterParams(queue_name=queue, broker_kind=BrokerEnum.REDIS_ACK_ABLE, concurrent_num=threads,
                         max_retry_times=0, consumer_override_cls=override,
                         user_custom_record_process_info_func=count))
    def job(i, sleep_ms):
        if sleep_ms:
            time.sleep(sleep_ms / 1000.0)

    job.clear()
    for i in range(n):
        job.push(i=i, sleep_ms=sleep_ms)
    while job.get_message_count() < n:
        time.sleep(0.05)
    t0 = time.time()
    job.consume()
    while done[0] < n:
        time.sleep(0.01)
    _get_sender().flush(60)
    print("RATE", n / (time.time() - t0), flush=True)
    os._exit(0)


if mode == "control":
    starts = sys.argv[3]

    @boost(BoosterParams(queue_name=queue, broker_kind=BrokerEnum.REDIS_ACK_ABLE, concurrent_num=2,
                         max_retry_times=0, is_support_remote_kill_task=True, consumer_override_cls=override,
                         broker_exclusive_config={"pull_msg_batch_size": 1}))
    def step(i, spin=False):
        with lock, open(starts, "a") as out:
            out.write(f"{i} {time.time()}\n")
        for _ in range(600 if spin else 3):
            time.sleep(0.1)
        return i

    step.consume()
    time.sleep(float(sys.argv[4]))
    os._exit(0)

broker_kind = BrokerEnum.REDIS_ACK_ABLE
if mode == "produce-priority":
    broker_kind = BrokerEnum.REDIS_PRIORITY
    # pull_msg_batch_size works around funboost 55's KeyError with x-max-priority alone.
    exclusive = {"x-max-priority": 4, "pull_msg_batch_size": 1}
elif mode in ("produce-zset", "consume-zset"):
    broker_kind = BrokerEnum.REDIS_ZSET_PRIORITY
elif kind_name:
    broker_kind = getattr(BrokerEnum, kind_name)
    if broker_kind == BrokerEnum.REDIS_PRIORITY:
        exclusive = {"x-max-priority": 4, "pull_msg_batch_size": 1}


persistence = FunctionResultStatusPersistanceConfig(is_save_status=mode == "persist",
                                                    is_save_result=mode == "persist")


@boost(BoosterParams(queue_name=queue, broker_kind=broker_kind, concurrent_num=1 if mode == "consume-zset" else 4,
                     max_retry_times=0, broker_exclusive_config=exclusive, consumer_override_cls=override,
                     is_send_consumer_heartbeat_to_redis=True,
                     # FUNBOOST_DLX=1: what fails every retry goes to <queue>_dlx.
                     is_push_to_dlx_queue_when_retry_max_times=os.environ.get("FUNBOOST_DLX") == "1",
                     function_result_status_persistance_conf=persistence,
                     user_custom_record_process_info_func=record if out_path else None))
def add(x, y=0, fail=False):
    time.sleep(0.01)
    if fail:
        raise ValueError(f"cannot add {x}")
    return x + y


if mode in ("produce", "kind-produce"):
    for i in range(int(sys.argv[3])):
        add.push(x=i, y=1)
    time.sleep(0.5)
    os._exit(0)
elif mode == "produce-priority":
    from funboost.core.func_params_model import TaskOptions  # noqa: E402
    for i in range(int(sys.argv[3])):
        add.publish({"x": i, "y": 1}, task_options=TaskOptions(other_extra_params={"priroty": i % 5}))
    time.sleep(0.5)
    os._exit(0)
elif mode == "produce-zset":
    from funboost.core.func_params_model import TaskOptions  # noqa: E402
    for i in range(int(sys.argv[3])):
        add.publish({"x": i, "y": 1}, task_options=TaskOptions(
            other_extra_params={"for_broker_redis_zset_priority": {"priority": (i % 4) * 2.5}}))
    time.sleep(0.5)
    os._exit(0)
elif mode in ("consume", "consume-zset", "taskdeck", "persist", "kind-consume"):
    add.consume()
    time.sleep(float(sys.argv[4]))
    os._exit(0)
else:
    sys.exit(f"unknown mode {mode}")
