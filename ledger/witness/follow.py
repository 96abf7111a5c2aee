"""Reading a log over HTTP the way any peer or CDN can: its checkpoints and C2SP tlog-tiles
entry bundles (`/tile/entries/<N>[.p/<W>]`), nothing a member's key would be needed for."""

from __future__ import annotations

import httpx

from ledger.core import tiles

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_BUNDLE = tiles.WIDTH * (2 + 65535)  # 256 entries of at most 65,535 bytes each


class LogUnreachable(Exception):
    """The log did not answer as a tlog-tiles log does; the message says what happened."""


class LogReader:
    def __init__(self, url: str, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self.client.get(f"{self.url}/{path}", **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as e:
            raise LogUnreachable(f"GET {self.url}/{path}: {e or type(e).__name__}") from e
        if response.status_code != 200:
            raise LogUnreachable(
                f"GET {self.url}/{path} answered {response.status_code}: {response.text[:200]}"
            )
        return response

    def checkpoint(self, size: int | None = None) -> str:
        """The latest signed checkpoint note (tlog-tiles `/checkpoint`), or the one for
        `size` (`/v1/checkpoint?size=`), as the log serves it. Unverified."""
        if size is None:
            return self._get("checkpoint").text
        headers = {"Accept": "text/plain"}
        return self._get("v1/checkpoint", params={"size": size}, headers=headers).text

    def entries(self, start: int, end: int) -> list[bytes]:
        """The log's entries start..end-1, from the entry bundles that hold them. Unverified:
        the caller binds them to a signed root."""
        found: list[bytes] = []
        first_tile, last_tile = start // tiles.WIDTH, (end - 1) // tiles.WIDTH
        for n in range(first_tile, last_tile + 1):
            width = min(tiles.WIDTH, end - n * tiles.WIDTH)
            path = tiles.tile_path("entries", n, width)
            body = self._get(path).content
            if len(body) > MAX_BUNDLE:
                raise LogUnreachable(f"{path} is larger than any bundle of {width} entries")
            try:
                bundle = tiles.parse_entry_bundle(body)
            except ValueError as e:
                raise LogUnreachable(f"{path} is not an entry bundle: {e}") from e
            if len(bundle) != width:
                raise LogUnreachable(f"{path} holds {len(bundle)} entries, not {width}")
            skip = max(0, start - n * tiles.WIDTH)
            found.extend(bundle[skip:])
        return found
