"""A MongoDB-protocol server for taskdeck's tests (secantusdb, a test-only dependency).

Usage: python mongo_server.py DATA_DIR PORT PIDFILE
Serves on 127.0.0.1:PORT until SIGTERM; writes its pid once it accepts connections.
"""
import os
import signal
import sys

from secantus import SecantusDBServer


def main() -> None:
    data_dir, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = SecantusDBServer(host="127.0.0.1", port=port, storage_path=data_dir)
    server.start()

    def terminate(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    try:
        while True:
            signal.pause()
    finally:
        server.stop()
        os.unlink(pidfile)


if __name__ == "__main__":
    main()
