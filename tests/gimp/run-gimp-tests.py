#!/usr/bin/env python3
"""Headless tests of the Seg-Grad-CAM GIMP plug-in (meson test suite 'gimp'), 2.10 or 3.0.

Lays the built plug-in out as GIMP expects it (plug-ins/seg-grad-cam/seg-grad-cam with its models
in plug-ins/seg-grad-cam/models/ and its help pages in plug-ins/seg-grad-cam/help/), writes the
input images, then runs gimp-console with a private profile (GIMP2_DIRECTORY or GIMP3_DIRECTORY):
once in batch mode for most tests, and twice under Xvfb (when xvfb-run exists) to open the dialogs,
which answer themselves through SEGCAM_TEST_DIALOG. Results come from the "segcam-test:" messages
of the script-fu tests (segcam-common.scm, with the helpers of tests/gimp/segcam-tests.scm for 2.10
or of tests/gimp3/segcam-tests.scm for 3.0: the same checks in each version's script-fu), from the
files the tests export — compared pixel by pixel with the segcam command line's when --cli is given
—, from what GIMP 3 recorded of the procedures in its pluginrc, and from GIMP's stderr; never from
GIMP's exit status, which is 0 even after script errors. The last line is "N passed, M failed".

usage: run-gimp-tests.py [--api 2|3] --gimp GIMP_CONSOLE --plugin SEG_GRAD_CAM --models RGB GRAY
                         --scheme segcam-tests.scm --help-dir HELP [--cli SEGCAM] [--keep]
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

# ---- PNG and PGM, standard library only --------------------------------------------------------


def png_write(path, width, height, channels, pixels):
    """Writes 8-bit gray (1) or RGB (3) pixels, a bytes object of height * width * channels."""
    color_type = {1: 0, 3: 2}[channels]
    stride = width * channels
    raw = b"".join(b"\0" + pixels[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def png_read(path):
    """Returns (width, height, channels, 8-bit samples) of a non-interlaced 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG" % path)
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if depth != 8 or interlace:
        raise ValueError("%s: only 8-bit non-interlaced PNGs are read here" % path)
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color_type]
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, channels, bytes(out)


def pgm_read(path):
    """An ASCII (P2) PGM as (width, height, values)."""
    with open(path) as f:
        words = f.read().split()
    assert words[0] == "P2", path
    width, height = int(words[1]), int(words[2])
    return width, height, [int(float(w)) for w in words[4:4 + width * height]]


def colour_planes(path, keep):
    """The first `keep` channels of each pixel; gray is replicated to three."""
    width, height, channels, pixels = png_read(path)
    out = []
    for i in range(width * height):
        p = pixels[i * channels:(i + 1) * channels]
        rgb = p[:1] * 3 if channels <= 2 else p[:3]
        out.append(tuple(rgb[:keep]))
    return width, height, out


# ---- inputs ------------------------------------------------------------------------------------

def rgb_fixture(width, height, shapes):
    """A dark textured background with solid rectangles (x0, y0, x1, y1, (r, g, b))."""
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            colour = (20 + (x * 7) % 30, 25, 30 + (y * 5) % 20)
            for x0, y0, x1, y1, c in shapes:
                if x0 <= x < x1 and y0 <= y < y1:
                    colour = c
            pixels += bytes(colour)
    return bytes(pixels)


RED, GREEN, BLUE = (230, 10, 10), (10, 210, 10), (10, 10, 220)
RGB_SHAPES = [(8, 8, 22, 24, RED), (36, 30, 41, 35, RED), (26, 4, 32, 37, GREEN),
              (38, 6, 46, 14, BLUE)]
BIG_SHAPES = [(100, 100, 500, 500, RED), (600, 150, 1000, 600, GREEN)]


def write_inputs(work):
    png_write(os.path.join(work, "rgb.png"), 48, 40, 3, rgb_fixture(48, 40, RGB_SHAPES))
    png_write(os.path.join(work, "big.png"), 1100, 700, 3, rgb_fixture(1100, 700, BIG_SHAPES))
    gray = bytearray()
    for y in range(32):
        for x in range(40):
            d2 = (x - 14) ** 2 + (y - 15) ** 2
            gray.append(220 if d2 < 64 else 30 + (x * 3 + y * 2) % 40)
    png_write(os.path.join(work, "gray.png"), 40, 32, 1, bytes(gray))
    with open(os.path.join(work, "corrupt.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 40) + b'{"a": {"dtype": "F32", "shape": [1], "da')


def lay_out_plugin(work, plugin, rgb_model, gray_model, api, help_dir):
    folder = os.path.join(work, "plug-ins", "seg-grad-cam")
    os.makedirs(os.path.join(folder, "models"))
    shutil.copytree(help_dir, os.path.join(folder, "help"))
    shutil.copy(plugin, os.path.join(folder, "seg-grad-cam"))
    os.chmod(os.path.join(folder, "seg-grad-cam"), 0o755)
    # The RGB test model stands in for the bundled default, to test the lookup by name.
    shutil.copy(rgb_model, os.path.join(folder, "models", "texture-mnist-biased.safetensors"))
    shutil.copy(gray_model, os.path.join(folder, "models", "tiny-gray.safetensors"))
    profile = os.path.join(work, "profile")
    for sub in ("brushes", "dynamics", "fonts", "gradients", "palettes", "patterns", "plug-ins",
                "scripts", "templates", "tool-presets", "modules", "interpreters", "environ",
                "themes", "cache"):
        os.makedirs(os.path.join(profile, sub))
    with open(os.path.join(profile, "gimprc"), "w") as f:
        f.write('(plug-in-path "%s:${gimp_plug_in_dir}/plug-ins")\n'
                % os.path.join(work, "plug-ins"))
    if api == "3":
        # GIMP 3's plug-in dialogs load the theme the GUI would have written into the profile.
        open(os.path.join(profile, "theme.css"), "w").close()
    return profile


# ---- running GIMP ------------------------------------------------------------------------------

# The checks both versions share; --scheme names the version's own file, which loads it.
COMMON_SCHEME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "segcam-common.scm")

def run_gimp(args, work, profile, entry, wrapper=(), extra_env=None, timeout=300):
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(profile, "cache"))
    env["GIMP%s_DIRECTORY" % args.api] = profile
    env.pop("SEGCAM_MODEL_DIR", None)
    env.pop("DISPLAY", None)
    env.update(extra_env or {})
    # -k: a GIMP stuck on a dead plug-in may ignore SIGTERM.
    command = list(wrapper) + ["timeout", "-k", "10", str(timeout), args.gimp, "-i", "-d", "-f"]
    if args.api == "3":
        # GIMP 3 needs the batch interpreter named.
        command.append("--batch-interpreter=plug-in-script-fu-eval")
    command += [
        # One batch command: script-fu forgets definitions between them.
        "-b", '(define segcam-dir "%s") (define segcam-common "%s") (load "%s") (%s)'
        % (work, COMMON_SCHEME, os.path.abspath(args.scheme), entry),
        "-b", "(gimp-quit 0)"]
    if args.api == "3":
        # GIMP 3 skips the batch commands after a failing one and would then wait; --quit
        # (which 2.10 rejects) ends it anyway.
        command.append("--quit")
    start = time.monotonic()
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          cwd=work)
    print("# %s: %.1f s in GIMP" % (entry, time.monotonic() - start))
    log = done.stdout.decode("utf-8", "replace")
    with open(os.path.join(work, re.sub(r"[^\w-]+", "-", entry) + ".log"), "w") as f:
        f.write(log)
    return log


class Results:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, name, ok, why=""):
        if ok:
            self.passed += 1
            print("ok - %s" % name)
        else:
            self.failed += 1
            print("FAIL - %s: %s" % (name, why))

    def skip(self, name, why):
        print("skip - %s: %s" % (name, why))

    def scheme(self, log, names):
        """The scheme tests' own verdicts; a test that printed none failed."""
        seen = {}
        for m in re.finditer(r"segcam-test: (ok|FAIL) ([\w-]+)(?:: (.*))?", log):
            seen[m.group(2)] = (m.group(1) == "ok", m.group(3) or "")
        for name in names:
            ok, why = seen.get(name, (False, "no result (GIMP or script-fu stopped early?)"))
            self.check(name, ok, why)


def compare(results, name, work, got_file, want_file, tolerance=0, channels=3):
    """Pixels of two PNGs agree (within tolerance) in the first channels of each pixel."""
    try:
        gw, gh, got = colour_planes(os.path.join(work, got_file), channels)
        ww, wh, want = colour_planes(os.path.join(work, want_file), channels)
    except (OSError, ValueError, KeyError) as e:
        results.check(name, False, str(e))
        return
    if (gw, gh) != (ww, wh):
        results.check(name, False, "size %dx%d, want %dx%d" % (gw, gh, ww, wh))
        return
    bad = [i for i in range(len(got))
           if max(abs(a - b) for a, b in zip(got[i], want[i])) > tolerance]
    worst = max((max(abs(a - b) for a, b in zip(got[i], want[i])) for i in bad), default=0)
    results.check(name, not bad, "%d of %d pixels differ (by up to %d), first at (%d, %d)"
                  % (len(bad), len(got), worst, bad[0] % gw, bad[0] // gw) if bad else "")


def cli(args, work, *options):
    command = [args.cli] + [str(o) for o in options]
    done = subprocess.run(command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(command), done.stderr.decode().strip()))


# ---- checks ------------------------------------------------------------------------------------

# What GIMP 3.0.4 itself prints in these runs, whatever the plug-in does: libgimpui cannot make a
# dialog transient for gimp-console's (absent) window, a plug-in (script-fu and file-png too)
# that writes to GIMP after sending its return values finds the pipe closed, and script-fu
# complains of the empty vector of drawables the errors test passes on purpose.
GIMP3_NOISE = re.compile(r"gimp_window_transient_on_mapped: assertion 'handle_size == "
                         r"sizeof \(Window\)' failed|gimp_flush\(\): error: Broken pipe|"
                         r"^\(script-fu:\d+\): .* is invalid or out of range for property "
                         r"'drawables'")


def unclean(log, api):
    """Leaks, crashes or warnings on GIMP's console, but for what GIMP 3 always prints."""
    lines = log.splitlines()
    if api == "3":
        lines = [line for line in lines if not GIMP3_NOISE.search(line)]
    return re.search(r"leaked|crashed|GEGL-WARNING|CRITICAL", "\n".join(lines)) is not None


def tokens(text):
    """The tokens of one line of GIMP's pluginrc: strings (unquoted) and bare words."""
    out = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|([^\s()"]+)', text):
        out.append(m.group(2) if m.group(1) is None else
                   re.sub(r"\\(.)", r"\1", m.group(1)))
    return out


# GIMP 3's record of the procedures: (type, name) and, for plain values, min, max and default
# (strings: the default) — the same arguments, ranges and defaults as the 2.10 procedures, with
# the drawables as an array; the return value last.
EXPLAIN_SIGNATURE = [
    ("GParamEnum", "run-mode"), ("GimpParamImage", "image"),
    ("GimpParamCoreObjectArray", "drawables"), ("GParamString", "model", ""),
    ("GParamString", "classes", ""), ("GParamString", "layer", ""),
    ("GParamInt", "roi-mode", "0", "3", "0"), ("GParamInt", "score", "0", "1", "0"),
    ("GParamInt", "colormap", "0", "4", "0"),
    ("GParamDouble", "opacity", "0", "100", "60"),
    ("GParamInt", "outputs", "1", "7", "1")]
GIMP3_SIGNATURES = {
    "plug-in-segcam-explain": EXPLAIN_SIGNATURE + [("GimpParamLayer", "group")],
    # The method is a string the plug-in checks (the engine's method names).
    "plug-in-segcam-explain-method": EXPLAIN_SIGNATURE + [
        ("GParamString", "method", "seg-grad-cam"), ("GParamInt", "weights", "0", "2", "0"),
        ("GParamInt", "pool", "1", "2.14748e+09", "2"), ("GParamInt", "pool-mode", "0", "1", "0"),
        ("GParamInt", "sweep", "0", "2", "0"),
        ("GParamInt", "max-channels", "0", "2.14748e+09", "64"), ("GimpParamLayer", "group")],
    "plug-in-segcam-heat-map-select": [
        ("GParamEnum", "run-mode"), ("GimpParamImage", "image"),
        ("GimpParamCoreObjectArray", "drawables"),
        ("GParamDouble", "threshold", "0", "1", "0.5"), ("GParamInt", "to-channel", "0", "1", "0"),
        ("GimpParamChannel", "channel")],
    "plug-in-segcam-segment": [
        ("GParamEnum", "run-mode"), ("GimpParamImage", "image"),
        ("GimpParamCoreObjectArray", "drawables"), ("GParamString", "model", ""),
        ("GParamDouble", "opacity", "0", "100", "60"), ("GimpParamLayer", "segmentation")],
}


def check_gimp3_signatures(results, rc):
    """The procedures as GIMP 3 recorded them in pluginrc."""
    for proc, want in GIMP3_SIGNATURES.items():
        m = re.search(r'\(proc-def "%s" .*?(?=\(proc-def |\(plug-in-def |\Z)' % proc, rc, re.S)
        if not m:
            results.check("signature " + proc, False, "not in pluginrc")
            continue
        got, problems = [], []
        for line in re.findall(r"\(proc-arg .*", m.group(0)):
            t = tokens(line)
            # proc-arg KIND TYPE VALUE-TYPE NAME NICK BLURB FLAGS [MIN MAX] DEFAULT...
            kind, name = t[2], t[4]
            if kind in ("GParamInt", "GParamDouble"):
                got.append((kind, name) + tuple("%g" % float(v) for v in t[8:11]))
            elif kind == "GParamString":
                got.append((kind, name, t[8]))
            else:
                got.append((kind, name))
        counts = re.search(r'"RGB\*, GRAY\*"\s+\d+\s+(\d+) (\d+)', m.group(0))
        if counts is None or (int(counts.group(1)), int(counts.group(2))) != (len(want) - 1, 1):
            problems.append("argument and return counts %s" % (counts and counts.groups(),))
        if got != want:
            problems.append("got %s" % got)
        help_text = tokens(m.group(0).splitlines()[2])
        if not help_text or len(help_text[0]) < 200:
            problems.append("no help text")
        results.check("signature " + proc, not problems, "; ".join(problems))


def check_help(results, work, rc):
    """The help domain GIMP recorded for the plug-in (its folder beside the plug-in), and a page
    there for each procedure's help ID."""
    folder = os.path.join(work, "plug-ins", "seg-grad-cam", "help")
    results.check("help-domain",
                  re.search(r'\(help-def "plug-in-segcam" "file://%s/?"\)' % re.escape(folder), rc)
                  is not None, "pluginrc has no help domain for %s" % folder)
    try:
        with open(os.path.join(folder, "en", "gimp-help.xml")) as f:
            refs = dict(re.findall(r'<help-item id="([^"]+)" ref="([^"#]+)', f.read()))
    except OSError as e:
        refs = {}
        results.check("help-pages", False, str(e))
        return
    missing = [proc for proc in ("plug-in-segcam-explain", "plug-in-segcam-explain-method",
                                 "plug-in-segcam-segment", "plug-in-segcam-heat-map-select")
               if not os.path.isfile(os.path.join(folder, "en", refs.get(proc, "-")))]
    results.check("help-pages", not missing, "no page for %s" % missing)


BATCH_TESTS = ["registration", "rect", "multi", "rerun", "default-class", "roi-modes", "feathered",
               "offsets", "nested", "gray", "precision", "resampled", "segment", "errors",
               "last-values", "explain-method", "sweep", "sweep-layers", "warnings",
               "heat-map-select"]


def check_batch_outputs(args, results, work, log, profile):
    # The menu entries, as GIMP recorded them when it queried the plug-in.
    try:
        with open(os.path.join(profile, "pluginrc"), errors="replace") as f:
            rc = f.read()
    except OSError:
        rc = ""
    results.check("menu", all(s in rc for s in ('"<Image>/Filters/Seg-Grad-CAM"', '"_Explain..."',
                                                '"_Segment..."', '"_Heat map to selection..."',
                                                '"RGB*, GRAY*"')),
                  "pluginrc lacks the menu path, labels or image types")
    if args.api == "3":
        check_gimp3_signatures(results, rc)
    check_help(results, work, rc)
    # Repeat Last's error reached the user as a message, not only as a failed call (in 2.10 the
    # plug-in's message, two lines so that GIMP shows it in a dialog, not in the status bar;
    # GIMP 3 shows the returned error itself, after a line of its own).
    results.check("interactive-error-message",
                  re.search(r"^(?!.*segcam-test).*empty ROI: the selection does not overlap the "
                            r"layer", log, re.M) is not None,
                  "no message from the plug-in on the console")
    if args.api == "2":
        shown = re.findall(r"Seg-Grad-CAM could not finish:\s*\n.*\S", log)
        # Only Repeat Last's: the batch calls' errors go to the script alone.
        results.check("interactive-error-dialog-text",
                      len(shown) == 1 and "empty ROI" in shown[0],
                      "messages shown: %s" % shown)
    results.check("clean-exit", not unclean(log, args.api),
                  "leaks, crashes or warnings on the console: see %s" % work)
    compare(results, "source-untouched", work, "rect-source.png", "rgb.png")
    compare(results, "gray-source-values-kept", work, "gray-source.png", "gray.png")
    compare(results, "alpha-ignored", work, "gray-alpha-heat.png", "gray-heat.png")
    # A gray image's results are in colour: a jet heat map, the class colours kept.
    for name, file in (("gray-heat-map-in-colour", "gray-heat.png"),
                       ("gray-segmentation-in-colour", "gray-segmentation.png")):
        try:
            _, _, pixels = colour_planes(os.path.join(work, file), 3)
            results.check(name, any(len(set(p)) > 1 for p in pixels), "%s is gray" % file)
        except (OSError, ValueError) as e:
            results.check(name, False, str(e))

    # Resampled runs cannot match the CLI pixel for pixel; the segmentation must line up with
    # the shapes away from their edges, and the heat map must not be flat.
    try:
        width, height, seg = colour_planes(os.path.join(work, "big-segmentation.png"), 3)
        expect = {RED: (255, 0, 0), GREEN: (0, 255, 0)}
        total = wrong = 0
        for y in range(0, height, 3):
            for x in range(0, width, 3):
                near_edge = False
                want = (0, 0, 0)
                for x0, y0, x1, y1, c in BIG_SHAPES:
                    if x0 - 6 <= x < x1 + 6 and y0 - 6 <= y < y1 + 6:
                        inside = x0 + 6 <= x < x1 - 6 and y0 + 6 <= y < y1 - 6
                        near_edge |= not inside
                        if inside:
                            want = expect[c]
                if not near_edge:
                    total += 1
                    wrong += seg[y * width + x] != want
        results.check("resampled-segmentation", wrong <= 0.005 * total,
                      "%d of %d sampled pixels have the wrong class" % (wrong, total))
        _, _, heat = colour_planes(os.path.join(work, "big-heat.png"), 3)
        results.check("resampled-heat-map", len(set(heat)) > 10, "the heat map is flat")
    except (OSError, ValueError) as e:
        results.check("resampled", False, str(e))

    check_heat_map_select(results, work)

    # Feathered selections give fractional weights.
    try:
        width, height, weights = pgm_read(os.path.join(work, "feathered-mask.pgm"))
        png_write(os.path.join(work, "feathered-mask.png"), width, height, 1, bytes(weights))
        results.check("feathered-weights", sum(0 < w < 255 for w in weights) > 50,
                      "the selection has no fractional weights")
    except (OSError, ValueError) as e:
        results.check("feathered-weights", False, str(e))

    if not args.cli:
        results.skip("cli-comparisons", "the segcam command line was not built")
        return
    rgb_model = os.path.join(work, "plug-ins/seg-grad-cam/models/texture-mnist-biased.safetensors")
    gray_model = os.path.join(work, "plug-ins/seg-grad-cam/models/tiny-gray.safetensors")
    gray = ["--colormap", "grayscale"]
    runs = [
        # (name, got, CLI output, CLI arguments, tolerance, channels)
        ("cli-rect", "rect-heat.png", "cli-rect.png",
         ["--class", "digit 1", "--roi-rect", "6,6,20,20"] + gray + ["rgb.png"], 0, 3),
        ("cli-multi-heat1", "multi-heat1.png", "cli-multi1.png",
         ["--class", "digit 1", "--overlay", "cli-multi1-overlay.png", "rgb.png"], 0, 3),
        ("cli-multi-overlay", "multi-overlay1.png", "cli-multi1-overlay.png", None, 1, 3),
        ("cli-multi-heat2", "multi-heat2.png", "cli-multi2.png", ["--class", "2", "rgb.png"], 0, 3),
        ("cli-roi-class-in-selection", "roi-class-in-selection.png", "cli-roi1.png",
         ["--class", "digit 1", "--layer", "enc.relu1", "--roi-rect", "6,6,40,32", "--roi-class"]
         + gray + ["rgb.png"], 0, 3),
        ("cli-roi-class", "roi-class.png", "cli-roi2.png",
         ["--class", "digit 1", "--roi-class", "--score", "probabilities"] + gray + ["rgb.png"],
         0, 3),
        ("cli-roi-component", "roi-component.png", "cli-roi3.png",
         ["--class", "digit 1", "--roi-rect", "6,6,40,32", "--roi-component", "largest"] + gray
         + ["rgb.png"], 0, 3),
        ("cli-feathered", "feathered-heat.png", "cli-feathered.png",
         ["--class", "digit 1", "--roi-mask", "feathered-mask.png"] + gray + ["rgb.png"], 0, 3),
        ("cli-offsets", "offset-heat.png", "cli-offset.png",
         ["--class", "digit 1", "--roi-rect", "6,6,20,16"] + gray + ["rgb.png"], 0, 3),
        ("cli-offsets-whole-layer", "offset-whole-heat.png", "cli-whole.png",
         ["--class", "digit 1"] + gray + ["rgb.png"], 0, 3),
        ("cli-gray", "gray-heat.png", "cli-gray.png",
         ["--model", gray_model, "--class", "foreground", "gray.png"], 0, 3),
        ("cli-gray-rgb-model", "gray-rgb-model-heat.png", "cli-gray-rgb.png",
         ["--class", "digit 1"] + gray + ["gray.png"], 0, 3),
        ("cli-16-bit", "u16-heat.png", "cli-rect.png", None, 1, 3),
        ("cli-float-linear", "float-heat.png", "cli-rect.png", None, 1, 3),
        ("cli-alpha", "alpha-heat.png", "cli-alpha.png",
         ["--class", "digit 1", "--roi-rect", "6,6,20,20"] + gray + ["alpha-source.png"], 0, 3),
        # plug-in-segcam-explain-method's maps are the command line's --method ones.
        ("cli-method-xres", "method-xres.png", "cli-xres.png",
         ["--class", "digit 1", "--roi-rect", "6,6,20,20", "--method", "xres", "--pool", "2",
          "--pool-mode", "max"] + gray + ["rgb.png"], 0, 3),
        ("cli-method-xres-mean", "method-xres-mean.png", "cli-xres-mean.png",
         ["--class", "digit 1", "--roi-rect", "6,6,20,20", "--method", "xres", "--pool", "3",
          "--pool-mode", "mean"] + gray + ["rgb.png"], 0, 3),
        ("cli-method-abs", "method-abs.png", "cli-abs.png",
         ["--class", "digit 1", "--roi-rect", "6,6,20,20", "--weights", "abs"] + gray
         + ["rgb.png"], 0, 3),
        ("cli-method-default", "method-default.png", "cli-rect.png", None, 0, 3),
        ("cli-method-hires", "method-hires.png", "cli-hires.png",
         ["--class", "digit 1", "--method", "hires"] + gray + ["rgb.png"], 0, 3),
        ("cli-method-gradcampp", "method-gradcampp.png", "cli-gradcampp.png",
         ["--class", "digit 1", "--method", "gradcam++"] + gray + ["rgb.png"], 0, 3),
        ("cli-method-eigen", "method-eigen.png", "cli-eigen.png",
         ["--class", "digit 1", "--method", "eigen"] + gray + ["rgb.png"], 0, 3),
        # Score-CAM and Ablation-CAM with the same cap on the channels.
        ("cli-method-score", "method-score.png", "cli-score.png",
         ["--class", "digit 1", "--method", "score", "--max-channels", "3"] + gray + ["rgb.png"],
         0, 3),
        ("cli-method-ablation", "method-ablation.png", "cli-ablation.png",
         ["--class", "digit 1", "--method", "ablation", "--max-channels", "3"] + gray
         + ["rgb.png"], 0, 3),
        # A sweep's map at the first block output is the command line's at that layer.
        ("cli-sweep-enc", "sweep-enc.png", "cli-enc.png",
         ["--class", "digit 1", "--layer", "enc.relu1"] + gray + ["rgb.png"], 0, 3),
        # So is a sweep over listed layers' map at that layer.
        ("cli-sweep-layers-enc", "sweep-layers-enc.png", "cli-enc.png", None, 0, 3),
    ]
    for name, got, want, options, tolerance, channels in runs:
        try:
            if options is not None:
                if "--model" not in options:
                    options = ["--model", rgb_model] + options
                cli(args, work, "explain", *options, "-o", want)
        except RuntimeError as e:
            results.check(name, False, str(e))
            continue
        compare(results, name, work, got, want, tolerance, channels)
    try:
        cli(args, work, "predict", "--model", rgb_model, "rgb.png", "-o", "cli-predict.png")
        compare(results, "cli-segment", work, "segment.png", "cli-predict.png")
        compare(results, "cli-multi-segmentation", work, "multi-segmentation.png",
                "cli-predict.png")
        cli(args, work, "predict", "--model", gray_model, "gray.png", "-o", "cli-predict-gray.png")
        compare(results, "cli-gray-segmentation", work, "gray-segmentation.png",
                "cli-predict-gray.png")
    except RuntimeError as e:
        results.check("cli-segment", False, str(e))


def check_heat_map_select(results, work):
    """The selections made from the grayscale heat map of a layer at (10, 12) in a 50 x 45 image:
    selected exactly where its gray level reaches the threshold (level k stands for k / 255),
    and nowhere outside the layer."""
    try:
        width, height, heat = colour_planes(os.path.join(work, "select-heat.png"), 1)
        for name, mask, threshold in (("heat-map-to-selection", "select-mask.pgm", 0.5),
                                      ("heat-map-to-channel", "select-channel.pgm", 0.25)):
            mw, mh, got = pgm_read(os.path.join(work, mask))
            # The mask file covers the layer's area (st-save-selection), clipped by the image.
            bad = []
            for y in range(mh):
                for x in range(mw):
                    inside = x + 10 < 50 and y + 12 < 45
                    want = 255 if inside and heat[y * width + x][0] >= threshold * 255 - 1e-6 \
                        else 0
                    if got[y * mw + x] != want:
                        bad.append((x, y))
            selected = sum(v == 255 for v in got)
            results.check(name, not bad and 0 < selected < mw * mh,
                          "%d pixels differ, first at %s; %d selected" % (len(bad), bad[:1],
                                                                         selected))
    except (OSError, ValueError) as e:
        results.check("heat-map-to-selection", False, str(e))


# The heat maps segcam-persistent-tests exports, each under both runs' prefixes.
PERSISTENT_FILES = ["class1.png", "class2.png", "segmentation.png", "selection.png", "score.png",
                    "after-score.png", "inverted.png", "gray-model.png", "model-again.png",
                    "other-image.png"]


def check_persistent(args, results, work, profile):
    """The same explanations through the persistent process and, with SEGCAM_PERSISTENT=0, each
    in a fresh process: identical pixels."""
    for prefix, persistent, env in (("kept", "#t", None),
                                    ("fresh", "#f", {"SEGCAM_PERSISTENT": "0"})):
        log = run_gimp(args, work, profile,
                       'segcam-persistent-tests "%s" %s' % (prefix, persistent), extra_env=env)
        results.scheme(log, ["persistent-" + prefix])
        results.check("persistent-clean-exit-" + prefix, not unclean(log, args.api),
                      "leaks, crashes or warnings on the console: see %s" % work)
    for name in PERSISTENT_FILES:
        compare(results, "persistent-same-" + name[:-4], work, "kept-" + name, "fresh-" + name)
    # The edited layer's map is its own, not the kept forward pass's (same class and selection).
    try:
        _, _, inverted = colour_planes(os.path.join(work, "kept-inverted.png"), 3)
        _, _, before = colour_planes(os.path.join(work, "kept-selection.png"), 3)
        results.check("persistent-edited-layer", inverted != before,
                      "the inverted layer's heat map is the one before the edit")
    except (OSError, ValueError) as e:
        results.check("persistent-edited-layer", False, str(e))


def dialog_lines(log):
    return [m.group(1) for m in re.finditer(r"segcam-dialog: (.*)", log)]


def check_dialogs(args, results, work, profile):
    xvfb = shutil.which("xvfb-run")
    if not xvfb:
        results.skip("dialogs", "xvfb-run is not installed")
        return
    wrapper = [xvfb, "-a", "-s", "-screen 0 1280x1024x24"]
    # Up long enough for the preview to compute (off the main loop) before the dump.
    log = run_gimp(args, work, profile, "segcam-dialog-cancel-tests", wrapper,
                   {"SEGCAM_TEST_DIALOG": "cancel", "SEGCAM_TEST_DIALOG_WAIT": "3"})
    results.scheme(log, ["dialog-cancel"])
    lines = dialog_lines(log)
    want = [
        "model = texture-mnist-biased (bundled, default)",
        "classes = [x] Automatic: the class predicted most | [ ] background | "
        "[ ] digit 1 | [ ] digit 2 | [ ] digit 3",
        "layer = mid.relu1 (relu) 8 × 20 × 24 — default",
        "layers = 10",
        # The chooser's top level: modules (standing for their output) and single nodes; a
        # module of one node is that node.
        "layer rows = enc [relu  6×40×48] | pool1 [maxpool2d  6×20×24] | "
        "mid — default [relu  8×20×24] | up1 [upsample  8×40×48] | "
        "cat1 [concat  14×40×48] | dec.conv1 [conv2d  4×40×48] | "
        "colour [conv2d  4×40×48] | logits [add  4×40×48]",
        # The chosen layer is ticked for a sweep over chosen layers, the boxes shown only then.
        "sweep layers = mid.relu1 (tick boxes hidden)",
        "working size = The network sees the layer at its own size, 48 × 40 pixels.",
        "method = Seg-Grad-CAM",
        "ok-sensitive = 1",
    ]
    missing = [w for w in want if w not in lines]
    results.check("dialog-contents", not missing and len(lines) >= 8,
                  "missing %s in %s" % (missing, lines))
    # The selection's class, with the times of a first computation: a forward pass and one
    # backward pass.
    preview = [l for l in lines if l.startswith("preview = ")]
    results.check("dialog-preview",
                  len(preview) == 1
                  and re.fullmatch(r"preview = digit 1: forward \d+\.\d\d s, backward "
                                   r"\d+\.\d\d s", preview[0]) is not None,
                  "preview status: %s" % preview)

    log = run_gimp(args, work, profile, "segcam-dialog-ok-tests", wrapper,
                   {"SEGCAM_TEST_DIALOG": "ok"})
    results.scheme(log, ["dialog-ok", "repeat-last", "dialog-options", "model-inherited",
                         "heat-map-select-dialog", "dialog-sweep-layers"])
    # The interactive run of a colour image into the gray model told the user (2.10: the
    # plug-in's two-line message; GIMP 3 shows gimp_message likewise).
    results.check("interactive-warning",
                  re.search(r"Seg-Grad-CAM warning:\s*\n.*a colour image into a grayscale model",
                            log) is not None, "no warning on the console")
    methods = [l for l in dialog_lines(log) if l.startswith("method = ")]
    results.check("dialog-shows-last-method", "method = hires" in methods,
                  "methods shown: %s" % methods)
    classes = [l for l in dialog_lines(log) if l.startswith("classes = ")]
    # The sweep dialog shows its last values' ticked layers, the tick boxes out.
    results.check("dialog-shows-ticked-layers",
                  "sweep layers = enc.relu1, colour (tick boxes shown)" in dialog_lines(log),
                  "sweep lines: %s" % [l for l in dialog_lines(log) if l.startswith("sweep ")])
    results.check("dialog-shows-last-values",
                  len(classes) == 4 and "[x] digit 2" in classes[1]
                  and "[ ] Automatic" in classes[1], "class rows shown: %s" % classes)
    results.check("dialog-clean-exit", not unclean(log, args.api),
                  "leaks, crashes or warnings on the console")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", choices=("2", "3"), default="2",
                        help="libgimp API of the plug-in: 2 (GIMP 2.10) or 3 (GIMP 3.0)")
    parser.add_argument("--gimp", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--models", nargs=2, required=True, metavar=("RGB", "GRAY"))
    parser.add_argument("--scheme", required=True)
    parser.add_argument("--help-dir", required=True, help="plugin/help, installed beside it")
    parser.add_argument("--cli")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    # The command line runs in the scratch folder.
    args.cli = args.cli and os.path.abspath(args.cli)

    work = tempfile.mkdtemp(prefix="segcam-gimp-")
    results = Results()
    try:
        write_inputs(work)
        profile = lay_out_plugin(work, args.plugin, *args.models, args.api, args.help_dir)
        log = run_gimp(args, work, profile, "segcam-batch-tests")
        results.scheme(log, BATCH_TESTS)
        check_batch_outputs(args, results, work, log, profile)
        check_persistent(args, results, work, profile)
        check_dialogs(args, results, work, profile)
    finally:
        if args.keep or results.failed:
            print("scratch folder kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (results.passed, results.failed))
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
