#!/usr/bin/env bash
# run_all.sh - replaced by tools/gpu/verify_and_measure.sh (issue 12 item 6).
#
# The old script called the repository launcher (which needs a JDK and may run Maven), gave
# its stages timeouts adding up to 720 s (a device call may last 600 s) and left no PyTorch
# JSON when the script was stopped. verify_and_measure.sh runs from the bundle (no JDK, no
# Maven on the GPU host), inside one 540 s deadline, and writes each stage's result as it
# finishes. This wrapper passes its arguments on:
#
#   OUT=/some/dir tools/bench/gpu/run_all.sh [--dry-run] [--bundle FILE.tar.xz] [RESULT_DIR]
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../gpu" && pwd)/verify_and_measure.sh" "$@"
