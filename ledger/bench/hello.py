"""The baseline of `sealchain bench api`: the smallest FastAPI app, served the same way."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
