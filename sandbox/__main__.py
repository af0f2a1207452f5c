"""`python -m sandbox [--host H] [--port P]`: serve the Enedis and RTE emulators."""

import argparse
import logging

from sandbox import serve

parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8800)
parser.add_argument("--register-customers", action="append", default=[], metavar="CLIENT_ID",
                    help="register the nine test customers as consented to this client id (repeatable)")
parser.add_argument("--register-all", action="store_true", help="every PRM counts as consented to every client")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
serve(args.host, args.port, {"REGISTER_CUSTOMERS": args.register_customers, "REGISTER_ALL": args.register_all})
