"""The bundled models travel in the wheel as the package ``cantus_resources`` (the repository's
``resources/`` folder: models/<name>/ with config.json, weights.safetensors, CARD.md); everything
else about the project is in pyproject.toml."""

from setuptools import find_namespace_packages, find_packages, setup

resources = ["cantus_resources"] + [f"cantus_resources.{p}" for p in
                                    find_namespace_packages(where="resources", exclude=["*__pycache__*"])]
setup(
    packages=find_packages(include=["app*", "engine*"]) + resources,
    package_dir={"cantus_resources": "resources"},
    package_data={p: ["*.json", "*.md", "*.safetensors"] for p in resources},
)
