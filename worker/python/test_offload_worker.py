"""Unit tests of the Python worker SDK's framing (run by CTest: python3 -m unittest)."""
import json
import struct
import unittest

import offload_worker as ow


def frame(header_bytes, payload=b""):
    return struct.pack(">I", len(header_bytes)) + header_bytes + payload


class FrameDecoderTest(unittest.TestCase):
    def test_round_trip_with_payload_in_pieces(self):
        data = ow.encode_frame({"type": "result", "id": 1, "value": [1, "é"]}, b"\x00\x01")
        decoder = ow.FrameDecoder()
        got = []
        for i in range(len(data)):  # one byte at a time
            decoder.feed(data[i:i + 1])
            got += decoder.frames()
        self.assertEqual(len(got), 1)
        header, payload = got[0]
        self.assertEqual(header["value"], [1, "é"])
        self.assertEqual(payload, b"\x00\x01")

    def test_rejects_oversized_header_before_buffering_it(self):
        decoder = ow.FrameDecoder(max_header=100)
        decoder.feed(struct.pack(">I", 4_000_000_000))
        with self.assertRaisesRegex(ow.ProtocolError, "outside"):
            decoder.frames()

    def test_rejects_invalid_json_non_utf8_and_non_objects(self):
        for bad in (b'{"type":', b'{"type":"x","v":"\xff"}', b"[1,2]", b'{"no":"type"}'):
            decoder = ow.FrameDecoder()
            decoder.feed(frame(bad))
            with self.assertRaises(ow.ProtocolError, msg=bad):
                decoder.frames()

    def test_rejects_negative_or_huge_payload_size(self):
        for size in (-1, 2**40, "12", True):
            decoder = ow.FrameDecoder(max_payload=1 << 20)
            decoder.feed(frame(json.dumps({"type": "call", "size": size}).encode()))
            with self.assertRaises(ow.ProtocolError, msg=size):
                decoder.frames()


if __name__ == "__main__":
    unittest.main()
