"""Free disk where Docker keeps its data, against what the chosen components will put there.

Kind nodes are containers: every image a node pulls and every volume local-path
provisions lands under Docker's root directory (DockerRootDir). Images must fit or
pods never start (a blocker); volumes are provisioned as directories that grow as
they are written, so not having room for all they request is a warning.
"""

from __future__ import annotations

from kfbootstrap.components import selected
from kfbootstrap.config import Config
from kfbootstrap.host import HostProbe
from kfbootstrap.preflight.findings import FAIL, OK, WARN, Finding
from kfbootstrap.tools.docker import DockerInfo

# Images unpacked on the nodes, in GiB: the node image plus what each component's pods pull
# (each component's images_gib and volumes_gib in kfbootstrap/components.py).
NODE_IMAGE_GIB = 1.5


def needs_gib(config: Config) -> tuple[float, float]:
    """(images, volumes) the enabled components put under Docker's root directory."""
    enabled = selected(config.components.enabled())
    images = NODE_IMAGE_GIB + sum(component.images_gib for component in enabled)
    volumes = sum(component.volumes_gib for component in enabled)
    return images, volumes


def check_disk(config: Config, host: HostProbe, docker: DockerInfo | None) -> Finding:
    images, volumes = needs_gib(config)
    wanted = f"images {images:.0f} GiB + volumes {volumes:.0f} GiB"
    if docker is None:
        return Finding(
            "disk",
            WARN,
            "cannot tell: Docker did not answer, so where it keeps its data is unknown",
            "start Docker and re-run `kfbootstrap doctor`",
        )
    if docker.is_desktop:
        return Finding(
            "disk",
            WARN,
            f"cannot tell: Docker Desktop keeps its data inside its VM; {wanted} needed",
            f"check Docker Desktop → Settings → Resources → Virtual disk limit (at least "
            f"{images + volumes:.0f} GiB) and `docker system df`",
        )
    root = docker.root_dir or "/var/lib/docker"
    free = host.free_disk_gib(root)
    if free is None:
        return Finding("disk", WARN, f"cannot tell the free space of {root}", f"check `df -h {root}`")
    seen = f"{free:.0f} GiB free at {root}"
    if free < images:
        return Finding(
            "disk",
            FAIL,
            f"{seen}; the images alone need {images:.0f} GiB ({wanted})",
            f"free space on the filesystem of {root} (`docker system prune` removes unused images), "
            "or switch components off",
        )
    if free < images + volumes:
        return Finding(
            "disk",
            WARN,
            f"{seen}; {wanted} requested",
            "volumes grow as they are written: free more space, or expect them to fill the disk",
        )
    return Finding("disk", OK, f"{seen} ({wanted} needed)")
