#!/usr/bin/env python3
"""An example external reward for pref4j: reads {"prompt","response"} JSONL on stdin and
prints one number per line: minus the number of words in the response."""
import json
import sys

for line in sys.stdin:
    item = json.loads(line)
    print(-len(item["response"].split()))
