"""Stand-in for the pip bootstrap script ansible-test downloads from a host this machine cannot reach.

ansible-test runs it as ``python get_pip.py [pip options] pip==X [--no-setuptools] [--no-wheel]`` in an
empty virtual environment. Like get-pip.py, it runs pip from a pip wheel (fetched from PyPI beforehand,
path filled in by run.sh) to install the requested packages into this interpreter.
"""
import os
import sys

wheel = os.environ.get("FLINKOPS_PIP_WHEEL") or "@PIP_WHEEL@"  # run.sh writes the path (ansible-test clears the environment)
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402  (imported from the wheel put on the path above)

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--find-links", os.path.dirname(wheel)] + args))
