"""Check the built documentation in a real headless browser.

Serves ``doc/_build/html`` on 127.0.0.1 (an ephemeral port, a thread of this process) and opens its
pages in headless Chromium, in a window 1280 pixels wide, through a same-origin probe page that
loads each page in an iframe, waits for its figures and its math, and reports what the browser
actually got. It asserts that

- each page's ``<title>`` is the expected one once the browser has run the page's scripts;
- the landing page shows its figure, the output of its runnable example and its Quick start;
- every gallery page's figures were fetched (HTTP 200) and decoded (``naturalWidth > 0``), offer a
  2x image for HiDPI screens (``srcset``), and no code block needs horizontal scrolling;
- every formula on the VAE pages (the user guide's and the API page's ELBO) was typeset by MathJax,
  which the site serves itself: no formula is left as raw TeX;
- the API page of each estimator shows its "Gallery examples using ..." mini-gallery;
- no page shows a list with letter or roman markers (a reference whose initial was read as a list
  marker) or loads a script, stylesheet or image from another host (the site must work offline);
- no request to the server failed;
- screenshots of the landing page, of a gallery page (scrolled to its first figure) and of the VAE
  API page (scrolled to its first formula), saved under ``doc/_build/``, are PNGs that are not blank.

Usage (after ``sphinx-build -b html . _build/html`` in ``doc/``)::

    python doc/check_rendered.py [--html DIR] [--page auto_examples/plot_2d_codes.html]
                                 [--chromium PATH] [--out DIR]

Chromium is Debian's ``chromium`` package (``apt-get install chromium``); ``--chromium`` or the
``CHROMIUM`` environment variable name another binary. Exits non-zero, naming every failed check.
"""

import argparse
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE / "_build"
TIMEOUT = 180  # seconds per browser run; a cold Chromium start on a small CI machine takes a few
WINDOW = (1280, 2000)

# Gallery examples whose code is not yet wrapped for the page (the build's check skips them too).
sys.path.insert(0, str(HERE / "_ext"))
try:
    from skae_docs import EXAMPLE_WIDTH_PENDING
except ImportError:  # the extension needs Sphinx; the check does not
    EXAMPLE_WIDTH_PENDING = {}

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]

PROBE_PATH = "/__probe__.html"
# Loads each page of ``pages`` in turn in a same-origin iframe filling the window, waits for its
# images and for MathJax, writes what the browser got into its own DOM as JSON, and scrolls the
# element named by ``scroll`` ("figure" or "math") of the last page into view for a screenshot.
PROBE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>render probe</title></head>
<body style="margin:0">
<pre id="result" style="display:none">pending</pre>
<iframe id="page" style="position:fixed;top:0;left:0;width:100%;height:100%;border:0"></iframe>
<script>
const pages = {pages};
const scroll = {scroll};
const frame = document.getElementById("page");
const sleep = ms => new Promise(done => setTimeout(done, ms));

function load(src) {{
  return new Promise(done => {{
    frame.addEventListener("load", done, {{once: true}});
    frame.src = src;
  }});
}}

async function typeset(win, doc) {{
  if (!doc.querySelector(".math")) return;
  for (let i = 0; i < 200 && !(win.MathJax && win.MathJax.startup &&
                                 win.MathJax.startup.promise); i++) await sleep(50);
  if (win.MathJax && win.MathJax.startup) await win.MathJax.startup.promise;
}}

async function inspect(src) {{
  await load(src);
  const win = frame.contentWindow, doc = frame.contentDocument;
  const imgs = Array.from(doc.querySelectorAll("article img"));
  await Promise.all(imgs.map(i => {{
    i.loading = "eager";
    return i.complete ? null : new Promise(done => {{
      i.addEventListener("load", done); i.addEventListener("error", done);
    }});
  }}));
  await typeset(win, doc);
  const math = Array.from(doc.querySelectorAll(".math"));
  const here = win.location.host;
  const resources = Array.from(doc.querySelectorAll("script[src], link[rel=stylesheet], img"))
    .map(e => e.src || e.href).filter(u => u && new URL(u, win.location.href).host !== here);
  const thumbs = Array.from(doc.querySelectorAll(".sphx-glr-thumbcontainer a"))
    .map(a => a.getAttribute("href"));
  return {{
    page: src,
    title: doc.title,
    text: doc.body.innerText,
    images: imgs.map(i => ({{src: i.getAttribute("src"), srcset: i.getAttribute("srcset") || "",
                             width: i.naturalWidth, height: i.naturalHeight}})),
    math: math.length,
    typeset: math.filter(m => m.querySelector("mjx-container")).length,
    raw_tex: math.filter(m => /\\\\[\\(\\[]/.test(m.textContent)).map(m => m.textContent.slice(0, 80)),
    overflow: Array.from(doc.querySelectorAll("div.highlight pre"))
      .filter(p => p.scrollWidth > p.clientWidth + 1)
      .map(p => p.textContent.split("\\n").reduce((a, b) => b.length > a.length ? b : a, "")),
    letter_lists: doc.querySelectorAll(
      "ol.upperalpha, ol.loweralpha, ol.upperroman, ol.lowerroman").length,
    external: resources,
    minigallery: thumbs,
  }};
}}

(async () => {{
  const results = [];
  for (const src of pages) results.push(await inspect(src));
  document.getElementById("result").textContent = JSON.stringify(results);
  const doc = frame.contentDocument;
  const target = scroll === "math" ? doc.querySelector("mjx-container") :
                 scroll === "figure" ? doc.querySelector("img.sphx-glr-single-img, " +
                                                         "img.sphx-glr-multi-img") : null;
  if (target) target.scrollIntoView({{block: "center"}});
}})();
</script></body></html>
"""


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


# ------------------------------------------------------------------------------------------------
# The server


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from the build folder, the probe page, and a log of (path, status)."""

    requests = None  # set per server: a list shared with the test

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == PROBE_PATH:
            query = urllib.parse.parse_qs(url.query)
            pages = ["/" + p.lstrip("/") for p in query.get("pages", [""])[0].split(",") if p]
            scroll = query.get("scroll", [""])[0]
            body = PROBE_PAGE.format(pages=json.dumps(pages), scroll=json.dumps(scroll)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        try:
            super().do_GET()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser closed the connection before the file was sent (e.g. it left the page)

    def log_request(self, code="-", size="-"):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        self.requests.append((path, int(code) if str(code).isdigit() else code))

    def log_message(self, format, *args):  # quiet
        pass


def serve(directory):
    """Serve ``directory`` on 127.0.0.1:<ephemeral>; returns (server, base_url, requests)."""
    requests = []
    handler = functools.partial(
        type("Handler", (_Handler,), {"requests": requests}), directory=str(directory)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}", requests


# ------------------------------------------------------------------------------------------------
# The browser


def find_chromium(explicit=None):
    candidates = [
        explicit,
        os.environ.get("CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ]
    for name in candidates:
        if name and shutil.which(name):
            return shutil.which(name)
    raise CheckFailed(
        "no Chromium found: install Debian's chromium package (apt-get install -y chromium) "
        "or pass --chromium PATH"
    )


def run_chromium(chromium, url, *extra):
    """Run headless Chromium on ``url`` with a fresh profile; returns its stdout."""
    profile = tempfile.mkdtemp(prefix="skae-chromium-")
    try:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"Chromium did not finish within {TIMEOUT} s on {url}") from exc
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0:
        raise CheckFailed(
            f"Chromium exited with status {proc.returncode} on {url}:\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


def probe_url(base, pages, scroll=""):
    query = urllib.parse.urlencode({"pages": ",".join(pages), "scroll": scroll})
    return f"{base}{PROBE_PATH}?{query}"


def probe(chromium, base, pages):
    """What the browser got for each page: a list of dicts (see PROBE_PAGE)."""
    # The virtual time budget lets the pages' scripts (theme, MathJax, probe) run to completion.
    dom = run_chromium(
        chromium,
        probe_url(base, pages),
        "--dump-dom",
        f"--virtual-time-budget={20000 * len(pages)}",
    )
    match = re.search(r'<pre id="result"[^>]*>(.*?)</pre>', dom, re.S)
    check(match and match.group(1) != "pending", f"the render probe did not finish on {pages}")
    return json.loads(html.unescape(match.group(1)))


def screenshot(chromium, url, path):
    path.unlink(missing_ok=True)
    run_chromium(chromium, url, f"--screenshot={path}", "--virtual-time-budget=20000")
    check(path.is_file(), f"Chromium wrote no screenshot of {url} to {path}")
    return path


def check_png_not_blank(path):
    """The file is a PNG and shows something: many colours, not one colour almost everywhere."""
    data = path.read_bytes()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file")
    from PIL import Image  # pillow comes with matplotlib, which the docs build needs

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        colors = rgb.getcolors(maxcolors=1 << 20) or []
    n_pixels = width * height
    dominant = max((count for count, _ in colors), default=n_pixels)
    check(width >= 800 and height >= 800, f"{path} is {width}×{height}: too small for a page")
    check(len(colors) >= 64, f"{path} has only {len(colors)} colours: the page looks blank")
    check(
        dominant / n_pixels < 0.995,
        f"{path}: one colour covers {dominant / n_pixels:.1%} of the page: it looks blank",
    )
    return width, height, len(colors)


# ------------------------------------------------------------------------------------------------
# The checks: each returns a list of failure messages (empty when the page passes)


def _rendered(images):
    return [im for im in images if im["width"] > 0 and im["height"] > 0]


def common_failures(result):
    page = result["page"]
    failures = []
    if not (result["title"] and "skae" in result["title"]):
        failures.append(f"{page}: title is {result['title']!r}")
    if result["letter_lists"]:
        failures.append(
            f"{page}: {result['letter_lists']} list(s) with letter or roman markers: a reference "
            "starting with an initial was read as a list"
        )
    if result["external"]:
        failures.append(f"{page}: loads resources from other hosts: {result['external'][:5]}")
    broken = [im["src"] for im in result["images"] if im["width"] == 0]
    if broken:
        failures.append(f"{page}: images that did not render: {broken}")
    return failures


def index_failures(result):
    failures = []
    if not result["title"].startswith("skae"):
        failures.append(f"index.html: title is {result['title']!r}, expected skae…")
    for text in ("Why skae", "Quick start", "Output, computed when this page was built"):
        if text not in result["text"]:
            failures.append(f"index.html: the rendered page has no {text!r}")
    if not any(im["src"].endswith("why_skae.png") for im in _rendered(result["images"])):
        failures.append(f"index.html: the landing figure did not render: {result['images']}")
    return failures


def gallery_failures(result):
    page = result["page"]
    stem = Path(page).stem
    failures = []
    figures = [im for im in result["images"] if re.search(r"sphx_glr_.*_\d{3}\.png", im["src"])]
    first = f"sphx_glr_{stem}_001.png"
    if not any(im["src"].endswith(first) for im in _rendered(figures)):
        failures.append(f"{page}: {first} did not render: {figures}")
    no_2x = [im["src"] for im in figures if not re.search(r"\s2(\.0+)?x\b", im["srcset"])]
    if no_2x:
        failures.append(f"{page}: figures without a 2x image for HiDPI screens: {no_2x}")
    if result["overflow"] and f"{stem}.py" not in EXAMPLE_WIDTH_PENDING:
        failures.append(
            f"{page}: code blocks scroll sideways in a {WINDOW[0]}-pixel window; widest lines: "
            f"{[line.strip()[:60] for line in result['overflow']]}"
        )
    return failures


def math_failures(result):
    page = result["page"]
    failures = []
    if result["math"] == 0:
        failures.append(f"{page}: no formula found")
    elif result["typeset"] < result["math"] or result["raw_tex"]:
        failures.append(
            f"{page}: {result['math'] - result['typeset']} of {result['math']} formulas not "
            f"typeset by MathJax; raw TeX left: {result['raw_tex'][:3]}"
        )
    return failures


def minigallery_failures(result):
    links = [href for href in result["minigallery"] if "auto_examples/plot_" in href]
    if not links:
        return [f"{result['page']}: no 'Gallery examples using ...' mini-gallery with examples"]
    return []


# ------------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=BUILD / "html", help="built HTML folder")
    parser.add_argument("--page", help="gallery page to screenshot, relative to the HTML folder")
    parser.add_argument("--chromium", help="Chromium binary (default: chromium on PATH)")
    parser.add_argument("--out", type=Path, default=BUILD, help="where screenshots are saved")
    args = parser.parse_args(argv)

    html_dir = args.html.resolve()
    failures = []
    try:
        check((html_dir / "index.html").is_file(), f"{html_dir}/index.html not found: build first")
        chromium = find_chromium(args.chromium)
        gallery = sorted(
            p.relative_to(html_dir).as_posix() for p in html_dir.glob("auto_examples/plot_*.html")
        )
        check(
            gallery,
            f"no gallery page auto_examples/plot_*.html under {html_dir}: was the gallery built?",
        )
        api = sorted(
            p.relative_to(html_dir).as_posix() for p in html_dir.glob("generated/skae.*.html")
        )
        guide = sorted(
            p.relative_to(html_dir).as_posix() for p in html_dir.glob("user_guide/*.html")
        )
        estimators = [p for p in api if not Path(p).stem.split(".")[-1].startswith("Base")]
        shot_page = args.page or (
            "auto_examples/plot_2d_codes.html"
            if "auto_examples/plot_2d_codes.html" in gallery
            else gallery[0]
        )
        args.out.mkdir(parents=True, exist_ok=True)

        server, base, requests = serve(html_dir)
        try:
            print(
                f"serving {html_dir} at {base}; browser: {chromium}; window {WINDOW[0]}×{WINDOW[1]}"
            )
            pages = ["index.html", *gallery, *api, *guide]
            results = {r["page"].lstrip("/"): r for r in probe(chromium, base, pages)}
            check(
                set(results) == set(pages), f"the probe reported on {sorted(results)}, not {pages}"
            )

            for result in results.values():
                failures += common_failures(result)
            failures += index_failures(results["index.html"])
            for page in gallery:
                failures += gallery_failures(results[page])
            for page in ("generated/skae.VAE.html", "user_guide/vae.html"):
                check(page in results, f"{page} was not built")
                failures += math_failures(results[page])
            for page in estimators:
                failures += minigallery_failures(results[page])
            bad = sorted(
                {
                    (path, code)
                    for path, code in requests
                    if code not in (200, 304) and path != "/favicon.ico"
                }
            )
            if bad:
                failures.append(f"failed requests: {bad[:10]}")
            fetched = {path for path, code in requests if code == 200}
            if not any(p.endswith("/_static/mathjax/tex-chtml-full.js") for p in fetched):
                failures.append("MathJax was not fetched from the site's own _static/mathjax/")
            if not any(p.endswith(".woff") for p in fetched):
                failures.append("no MathJax font was fetched from the site")
            for page, result in results.items():
                status = "BAD" if any(page in failure for failure in failures) else "ok "
                images = len(_rendered(result["images"]))
                formulas = f", {result['typeset']}/{result['math']} formulas typeset"
                print(f"{status} {page}: {images} images{formulas if result['math'] else ''}")

            shots = [
                ("screenshot_index.png", probe_url(base, ["index.html"])),
                ("screenshot_gallery.png", probe_url(base, [shot_page], "figure")),
                ("screenshot_vae_api.png", probe_url(base, ["generated/skae.VAE.html"], "math")),
            ]
            for name, url in shots:
                shot = screenshot(chromium, url, args.out / name)
                info = check_png_not_blank(shot)
                print(f"ok  screenshot {shot} ({info[0]}×{info[1]}, {info[2]} colours)")
        finally:
            server.shutdown()
            server.server_close()
    except CheckFailed as exc:
        failures.append(str(exc))
    if failures:
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print("rendered documentation: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
