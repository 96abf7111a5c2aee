"""Route modules: thin; they parse, call a service function, and map the result."""

from starlette.convertors import Convertor, register_url_convertor


class Hex64Convertor(Convertor[str]):
    """A tx_id in a path: 64 lowercase hex digits, so /v1/entries/batch is not an entry."""

    regex = "[0-9a-f]{64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("hex64", Hex64Convertor())
