"""The picture of the web page in docs/runtime.md: `fasttx web` for a model, one photo stylised, in headless Chromium.

    python bench/web_page.py MODEL.onnx PHOTO.jpg [-o docs/img/web_page.jpg]

The page runs the model with onnxruntime-web (WASM here: headless Chromium has no GPU) on a real clock, so the time
it shows is the time it took; the shot is taken once the page has drawn the result (`--wait` seconds at most).
Needs chromium and websocket-client (`pip install -e .[bench]`).
"""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client (the bench extra): the DevTools protocol
from PIL import Image

from fasttx.io import write_bytes
from fasttx.web import SiteServer, build_site


def _shot_when_done(browser: subprocess.Popen[str], wait: float) -> Image.Image:
    """The page once its status line says how long the model took (or what went wrong), over the DevTools protocol:
    a screenshot on a real clock, where --virtual-time-budget would stop the page's clock at 0 ms."""
    assert browser.stderr is not None
    for line in browser.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..."
        if "DevTools listening on" in line:
            port = line.split("ws://127.0.0.1:")[1].split("/")[0]
            break
    else:
        sys.exit("chromium did not start")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as answer:
        page = next(target for target in json.load(answer) if target["type"] == "page")
    devtools = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=wait, suppress_origin=True)
    calls = itertools.count(1)

    def call(method: str, **params: object) -> dict:
        number = next(calls)
        devtools.send(json.dumps({"id": number, "method": method, "params": params}))
        while (reply := json.loads(devtools.recv())).get("id") != number:
            pass
        return reply["result"]

    deadline = time.monotonic() + wait
    status = ""
    while time.monotonic() < deadline and not re.search(r" ms on |could not|error", status):
        time.sleep(1)
        found = call("Runtime.evaluate", expression="document.getElementById('status')?.textContent ?? ''")
        status = found["result"].get("value", "")
    print(f"the page says: {status}")
    shot = call("Page.captureScreenshot", format="png")
    devtools.close()
    return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="an exported model.onnx")
    parser.add_argument("photo", type=Path)
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/img/web_page.jpg"))
    parser.add_argument("--size", default="900,720", help="the window, W,H px")
    parser.add_argument("--wait", type=int, default=90, help="seconds the page gets to load and run the model")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs chromium (apt install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build_site(args.model, site)
        with Image.open(args.photo) as photo:
            photo.convert("RGB").save(site / "photo.png")
        httpd = SiteServer(site, 0, extra=("photo.png",))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://localhost:{httpd.server_address[1]}/index.html?show=photo.png&backend=wasm"
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"]
        command += [f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={args.size}"]
        browser = subprocess.Popen(
            [*command, "--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", url],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            picture = _shot_when_done(browser, args.wait)
        finally:
            browser.kill()
            browser.wait()
            httpd.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    encoded = io.BytesIO()
    picture.save(encoded, format="JPEG", quality=85)
    write_bytes(args.out, encoded.getbuffer())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
