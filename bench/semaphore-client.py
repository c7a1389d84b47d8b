# The orchestration bench's Python peer: what a user writes with the `openai` package for Python
# instead of treesynth. AsyncOpenAI and an asyncio.Semaphore of C; the SDK's own retries and
# backoff (which honour retry-after); the same prompt shape, schema name and file contents as
# bench/semaphore-client.ts and treesynth's extraction.
# Usage: python semaphore-client.py '<json: baseURL, model, concurrency, maxRetries, timeoutMs, corpus, count>'
# Prints one JSON line: {"ok", "failed", "seconds"}.
import asyncio
import json
import sys
import time

from openai import AsyncOpenAI


async def main(args: dict) -> dict:
    with open(args["corpus"], encoding="utf-8") as corpus:
        files = [json.loads(line) for line in corpus if line.strip()][: args["count"]]
    if len(files) < args["count"]:
        raise SystemExit(f"semaphore-client.py: the corpus has {len(files)} files, {args['count']} asked")
    client = AsyncOpenAI(base_url=args["baseURL"], api_key="bench", max_retries=args["maxRetries"], timeout=args["timeoutMs"] / 1000)
    semaphore = asyncio.Semaphore(args["concurrency"])
    counts = {"ok": 0, "failed": 0}

    async def one(file: dict) -> None:
        async with semaphore:
            try:
                await client.chat.completions.create(
                    model=args["model"],
                    messages=[
                        {"role": "system", "content": "Name the features of this code file under the given categories. Answer in JSON."},
                        {"role": "user", "content": f"File: {file['path']}\n\n{file['content']}"},
                    ],
                    response_format={"type": "json_schema", "json_schema": {"name": "code_features", "schema": {"type": "object"}}},
                )
                counts["ok"] += 1
            except Exception:
                counts["failed"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(file) for file in files))
    await client.close()
    return {**counts, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
