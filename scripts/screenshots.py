"""The README's screenshots: the studio training the default MLP on the embedded MNIST digits.

    python scripts/screenshots.py [--epochs 8] [--out docs]

A real run in the real app (Textual's headless driver, 120x40): press space, wait for the
epochs to finish, then save the monitor and the predictions panes as SVG. Works offline: the
embedded subset is what a fresh install trains on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path


async def take(out: Path, epochs: int) -> None:
    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.app import create_app

    with tempfile.TemporaryDirectory() as saves:
        config = RunConfig().replace(**{"data.name": "mnist-embedded", "training.epochs": epochs})
        app = create_app(config=config, saves_dir=saves, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            app.simulate_key("space")
            while app.status != "finished":
                await pilot.pause(0.2)
                if app.status in ("stopped", "diverged", "failed"):
                    raise SystemExit(f"the run ended {app.status}")
            app.clear_notifications()
            await pilot.pause(1.0)  # the plots redraw on their own timer
            for key, name in (("3", "studio-monitor.svg"), ("4", "studio-predictions.svg")):
                await pilot.press(key)
                await pilot.pause(0.5)
                app.save_screenshot(filename=name, path=str(out))
                print(out / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="docs", help="folder for the SVG files (default docs)")
    args = parser.parse_args()
    os.environ["NNSTUDIO_OFFLINE"] = "1"  # the embedded digits, whatever this machine has cached
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(take(out, args.epochs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
