"""The bundled models travel in the wheel as the package ``cantus_resources`` (the repository's
``resources/`` folder: models/<name>/ with config.json, weights.safetensors, CARD.md; the icon),
with a copy of the README and its pictures for the Help menu's user guide; everything else about the project is
in pyproject.toml."""

from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py


class BuildWithReadme(build_py):
    """build_py that also puts README.md and its pictures (docs/*.png) into cantus_resources
    (package_data cannot reach above the package's folder)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # pip install -e: the README is beside the source
            return
        target = Path(self.build_lib) / "cantus_resources"
        self.copy_file("README.md", str(target / "README.md"))
        self.mkpath(str(target / "docs"))
        for picture in sorted(Path("docs").glob("*.png")):
            self.copy_file(str(picture), str(target / "docs" / picture.name))

resources = ["cantus_resources"] + [f"cantus_resources.{p}" for p in
                                    find_namespace_packages(where="resources", exclude=["*__pycache__*"])]
setup(
    packages=find_packages(include=["app*", "engine*"]) + resources,
    package_dir={"cantus_resources": "resources"},
    package_data={p: ["*.json", "*.md", "*.safetensors", "*.svg"] for p in resources},
    cmdclass={"build_py": BuildWithReadme},
)
