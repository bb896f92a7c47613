#!/usr/bin/env python3
"""Prints each failed test of the given TRX files with the start of its message, so a CI log's tail names them."""
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        print(f"  {path}: unreadable TRX ({e})")
        continue
    for r in root.iterfind(".//t:UnitTestResult", NS):
        if r.get("outcome") in ("Passed", "NotExecuted"):
            continue
        message = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=NS).strip()
        lines = [line for line in message.splitlines() if line.strip()][:6]
        print(f"FAILED {r.get('testName')} ({r.get('outcome')}, {r.get('duration')})")
        for line in lines:
            print(f"    {line[:300]}")
