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

    def test_size_must_be_a_non_negative_integer_within_the_limit(self):
        for text in (b"1e300", b"-1e300", b"-1", b"1.5", b"-0.5", b'"12"', b"true", b"false",
                     b'""', b"[]", b"{}", b"0.0001", b"1048577", b"9223372036854775808"):
            decoder = ow.FrameDecoder(max_payload=1 << 20)
            decoder.feed(frame(b'{"type":"call","size":' + text + b"}", b"x" * 8))
            with self.assertRaises(ow.ProtocolError, msg=text):
                decoder.frames()
        # What the C++ SDK and the pool accept too: JSON does not tell 3 from 3.0.
        for text, n in ((b"null", 0), (b"0", 0), (b"3", 3), (b"3.0", 3), (b"1048576", 1 << 20)):
            decoder = ow.FrameDecoder(max_payload=1 << 20)
            decoder.feed(frame(b'{"type":"call","size":' + text + b"}", b"p" * n))
            got = decoder.frames()
            self.assertEqual(len(got), 1, text)
            self.assertEqual(got[0][1], b"p" * n)


if __name__ == "__main__":
    unittest.main()
