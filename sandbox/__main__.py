"""`python -m sandbox [--host H] [--port P]`: serve the Enedis and RTE emulators."""

import argparse
import logging

from sandbox import serve

parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8800)
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
serve(args.host, args.port)
