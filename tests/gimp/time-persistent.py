#!/usr/bin/env python3
"""Times plug-in-segcam-explain in headless GIMP, with and without the persistent process.

usage: time-persistent.py BUILD_DIR IMAGE MODEL CLASS_A CLASS_B [--size 1024x683] [--rounds 3]
                          [--api 2|3] [--gimp GIMP_CONSOLE]

--api 3 times a build made with -Dgimp_api=3 in gimp-console-3.0 (in the GIMP 3 root, e.g. the
build tools/gimp3-test.sh keeps there).

Lays the built plug-in out as run-gimp-tests.py does, then runs gimp-console ROUNDS times each way,
alternating: as GIMP runs the plug-in (Explain hands its runs to the persistent process) and with
SEGCAM_PERSISTENT=0 (each run in a process of its own). Each GIMP run opens IMAGE scaled to SIZE
and times, as a script sees them, four explanations with MODEL (a path): CLASS_A, then CLASS_B,
then CLASS_B over a selection, then CLASS_A after inverting the layer
(segcam-common.scm, segcam-time-persistent). Prints each run's times, then the medians and the
ratio of each later call to the first.
"""
import argparse
import importlib.util
import os
import re
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("run_gimp_tests",
                                              os.path.join(HERE, "run-gimp-tests.py"))
gimp_tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gimp_tests)


def quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build")
    parser.add_argument("image")
    parser.add_argument("model")
    parser.add_argument("class_a")
    parser.add_argument("class_b")
    parser.add_argument("--size", default="1024x683")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--api", choices=("2", "3"), default="2")
    parser.add_argument("--gimp")
    options = parser.parse_args()
    width, height = (int(v) for v in options.size.split("x"))
    build = os.path.abspath(options.build)
    console = "gimp-console-2.10" if options.api == "2" else "gimp-console-3.0"
    args = argparse.Namespace(api=options.api,
                              gimp=options.gimp or shutil.which(console) or "gimp-console",
                              scheme=os.path.join(HERE, "..", "gimp" if options.api == "2"
                                                  else "gimp3", "segcam-tests.scm"))

    work = tempfile.mkdtemp(prefix="segcam-time-")
    try:
        profile = gimp_tests.lay_out_plugin(
            work, os.path.join(build, "plugin", "seg-grad-cam"),
            os.path.join(build, "plugin", "tiny-rgb.safetensors"),
            os.path.join(build, "plugin", "tiny-gray.safetensors"), options.api,
            os.path.join(HERE, "..", "..", "plugin", "help"))
        entry = "segcam-time-persistent %s %s %s %s %d %d" % (
            quote(os.path.abspath(options.image)), quote(os.path.abspath(options.model)),
            quote(options.class_a), quote(options.class_b), width, height)
        times = {"persistent": [], "fresh": []}
        for round_ in range(options.rounds):
            for way, env in (("persistent", None), ("fresh", {"SEGCAM_PERSISTENT": "0"})):
                log = gimp_tests.run_gimp(args, work, profile, entry, extra_env=env, timeout=3600)
                m = re.search(r"segcam-time: first (\S+) second (\S+) selection (\S+) "
                              r"edited (\S+)", log)
                if not m:
                    print(log)
                    return 1
                row = [float(v) for v in m.groups()]
                times[way].append(row)
                print("%-10s round %d: first %.2f s, second %.2f s, selection %.2f s, "
                      "edited %.2f s" % (way, round_ + 1, *row))
        for way, rows in times.items():
            med = [statistics.median(column) for column in zip(*rows)]
            print("%-10s median: first %.2f s, second %.2f s (%.2fx), selection %.2f s (%.2fx), "
                  "edited %.2f s (%.2fx)" % (way, med[0], med[1], med[1] / med[0], med[2],
                                             med[2] / med[0], med[3], med[3] / med[0]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
