"""Check the built documentation in a real headless browser.

Serves ``doc/_build/html`` on 127.0.0.1 (an ephemeral port, a thread of this process), opens the
index page and one gallery page with headless Chromium, and asserts that

- each page's ``<title>`` is the expected one once the browser has run the page's scripts;
- the gallery page holds an ``<img>`` of its first figure, that the browser fetched it from the
  server (HTTP 200) and decoded it (``naturalWidth > 0``, read through a same-origin probe page that
  loads the gallery page in an iframe);
- a screenshot of each page (the gallery page scrolled to its first figure), saved under
  ``doc/_build/``, is a PNG that is not blank.

Usage (after ``sphinx-build -b html . _build/html`` in ``doc/``)::

    python doc/check_rendered.py [--html DIR] [--page auto_examples/plot_2d_codes.html]
                                 [--chromium PATH] [--out DIR]

Chromium is Debian's ``chromium`` package (``apt-get install chromium``); ``--chromium`` or the
``CHROMIUM`` environment variable name another binary. Exits non-zero, naming the failed check, on
any failure.
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
TIMEOUT = 120  # seconds per browser run; a cold Chromium start on a small CI machine takes a few

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
    "--window-size=1280,2000",
]

PROBE_PATH = "/__probe__.html"
# Loads the page under test in a same-origin iframe filling the window, waits for its gallery
# figures to load, writes what the browser actually got (title, and each figure's decoded size) into
# its own DOM as JSON, and scrolls the first figure into view (so that the screenshot of the probe
# shows it).
PROBE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>render probe</title></head>
<body style="margin:0">
<pre id="result" style="display:none">pending</pre>
<iframe id="page" src="{src}"
        style="position:fixed;top:0;left:0;width:100%;height:100%;border:0"></iframe>
<script>
const frame = document.getElementById("page");
frame.addEventListener("load", () => {{
  const doc = frame.contentDocument;
  const imgs = Array.from(doc.querySelectorAll("img"))
    .filter(i => /sphx_glr_.*_\\d+\\.png/.test(i.src));
  const loaded = imgs.map(i => {{
    i.loading = "eager";
    return i.complete ? Promise.resolve() :
      new Promise(done => {{
        i.addEventListener("load", done);
        i.addEventListener("error", done);
      }});
  }});
  Promise.all(loaded).then(() => {{
    const result = {{
      title: doc.title,
      images: imgs.map(i => ({{src: i.getAttribute("src"), width: i.naturalWidth,
                               height: i.naturalHeight}})),
    }};
    document.getElementById("result").textContent = JSON.stringify(result);
    // For the screenshot: bring the first figure into view.
    if (imgs.length) imgs[0].scrollIntoView({{block: "center"}});
  }});
}});
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
            src = urllib.parse.parse_qs(url.query).get("page", [""])[0]
            body = PROBE_PAGE.format(src=html.escape("/" + src.lstrip("/"), quote=True)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

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


def dump_dom(chromium, url):
    # The virtual time budget lets the page's scripts (theme, probe) run before the DOM is dumped.
    return run_chromium(chromium, url, "--dump-dom", "--virtual-time-budget=10000")


def screenshot(chromium, url, path):
    path.unlink(missing_ok=True)
    run_chromium(chromium, url, f"--screenshot={path}", "--virtual-time-budget=5000")
    check(path.is_file(), f"Chromium wrote no screenshot of {url} to {path}")
    return path


def title_of(dom):
    match = re.search(r"<title>(.*?)</title>", dom, re.S)
    return html.unescape(match.group(1)).strip() if match else None


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


def default_gallery_page(html_dir):
    preferred = html_dir / "auto_examples" / "plot_2d_codes.html"
    if preferred.is_file():
        return preferred.relative_to(html_dir).as_posix()
    pages = sorted((html_dir / "auto_examples").glob("plot_*.html"))
    check(
        pages, f"no gallery page auto_examples/plot_*.html under {html_dir}: was the gallery built?"
    )
    return pages[0].relative_to(html_dir).as_posix()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=BUILD / "html", help="built HTML folder")
    parser.add_argument("--page", help="gallery page to check, relative to the HTML folder")
    parser.add_argument("--chromium", help="Chromium binary (default: chromium on PATH)")
    parser.add_argument("--out", type=Path, default=BUILD, help="where screenshots are saved")
    args = parser.parse_args(argv)

    html_dir = args.html.resolve()
    try:
        check((html_dir / "index.html").is_file(), f"{html_dir}/index.html not found: build first")
        chromium = find_chromium(args.chromium)
        page = args.page or default_gallery_page(html_dir)
        # The page's own first figure, as sphinx-gallery names it.
        stem = Path(page).stem
        figure = f"sphx_glr_{stem}_001.png"
        args.out.mkdir(parents=True, exist_ok=True)

        server, base, requests = serve(html_dir)
        try:
            print(f"serving {html_dir} at {base}; browser: {chromium}")

            # 1. The index page: its title, as the browser sees it, and a screenshot.
            dom = dump_dom(chromium, f"{base}/index.html")
            title = title_of(dom)
            check(
                title and title.startswith("skae"),
                f"index.html: title is {title!r}, expected skae…",
            )
            check(
                "Quick start" in dom, "index.html: the rendered page has no 'Quick start' section"
            )
            shot = screenshot(chromium, f"{base}/index.html", args.out / "screenshot_index.png")
            info = check_png_not_blank(shot)
            print(f"ok  index.html: title {title!r}")
            print(f"ok  index.html: screenshot {shot} ({info[0]}×{info[1]}, {info[2]} colours)")

            # 2. The gallery page: title, figure <img> in the DOM, figure fetched and decoded.
            del requests[:]
            dom = dump_dom(chromium, f"{base}/{page}")
            title = title_of(dom)
            check(title and "skae" in title, f"{page}: title is {title!r}")
            srcs = re.findall(r"<img[^>]+src=\"([^\"]*sphx_glr_[^\"]*_\d+\.png)\"", dom)
            check(any(s.endswith(figure) for s in srcs), f"{page}: no <img> of {figure} in the DOM")
            fetched = [code for path, code in requests if path.endswith("/" + figure)]
            check(
                fetched and all(code == 200 for code in fetched),
                f"{page}: the browser did not fetch {figure} successfully (requests: {fetched})",
            )

            probe_url = f"{base}{PROBE_PATH}?page={urllib.parse.quote(page)}"
            probe = dump_dom(chromium, probe_url)
            match = re.search(r'<pre id="result"[^>]*>(.*?)</pre>', probe, re.S)
            check(match and match.group(1) != "pending", f"{page}: the render probe did not finish")
            result = json.loads(html.unescape(match.group(1)))
            check(result["title"] == title, f"{page}: probe saw title {result['title']!r}")
            rendered = [im for im in result["images"] if im["width"] > 0 and im["height"] > 0]
            check(
                any(im["src"].endswith(figure) for im in rendered),
                f"{page}: {figure} did not render in the browser: {result['images']}",
            )
            shot = screenshot(chromium, probe_url, args.out / "screenshot_gallery.png")
            info = check_png_not_blank(shot)
            sizes = ", ".join(
                f"{Path(im['src']).name} {im['width']}×{im['height']}" for im in rendered
            )
            print(f"ok  {page}: title {title!r}; rendered {sizes}")
            print(f"ok  {page}: screenshot {shot} ({info[0]}×{info[1]}, {info[2]} colours)")
        finally:
            server.shutdown()
            server.server_close()
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print("rendered documentation: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
