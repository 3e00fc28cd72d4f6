"""A throwaway virtualenv layered over the one running the tests: what it installs stays
in it (the hub's own environment is never changed), while everything installed in the
hub's environment (the hub, Flask, pytest, the adapters) is importable in it.

``python -m venv --system-site-packages`` would layer it over the *base* interpreter,
not over the hub's virtualenv, so a ``.pth`` file adds the hub's site-packages with
``site.addsitedir`` (which also runs that folder's own ``.pth`` files: the hub and the
adapters are installed editable). pip runs from the hub's environment and installs into
the layered one; ``last100`` there is a small script running ``hub.cli``.

Installs never reach a package index: every dependency is already installed, and
``setup.py develop`` (what pip runs with ``PIP_USE_PEP517=false``) needs no build
isolation, which would download setuptools.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LayeredVenv:
    path: Path

    @classmethod
    def create(cls, path: Path) -> LayeredVenv:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        venv = cls(path)
        site_packages = subprocess.run(
            [str(venv.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        parents = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
        (Path(site_packages) / "_last100_parent.pth").write_text(
            "".join(f"import site; site.addsitedir({parent!r})\n" for parent in parents), encoding="utf-8"
        )
        script = venv.bin / "last100"
        script.write_text(f"#!{venv.python}\nimport sys\n\nfrom hub.cli import main\n\nsys.exit(main())\n")
        script.chmod(0o755)
        return venv

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self) -> dict[str, str]:
        """The environment of a shell with the venv activated: its ``bin`` first on the
        ``PATH``, no ``LAST100_*`` settings of the test run, pip offline."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LAST100_", "PYTEST_")) and key not in ("PYTHONPATH", "PYTHONHOME")
        }
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(self.path),
            PIP_NO_INDEX="1",
            PIP_USE_PEP517="false",
            PIP_NO_BUILD_ISOLATION="false",  # pip reads this one backwards: "false" turns isolation off
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def pip_install_editable(self, *folders: Path) -> None:
        """``pip install --no-deps -e`` each folder into the venv (one pip run)."""
        args = [arg for folder in folders for arg in ("-e", str(folder))]
        result = subprocess.run(
            [str(self.python), "-m", "pip", "install", "-q", "--no-deps", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip install failed:\n{result.stdout}\n{result.stderr}")
