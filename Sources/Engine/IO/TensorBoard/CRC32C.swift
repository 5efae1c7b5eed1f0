/// CRC-32C (Castagnoli), the checksum of TFRecord files: the reflected CRC with polynomial
/// 0x1EDC6F41 (0x82F63B78 bit-reversed), initial value 0xFFFFFFFF and final xor 0xFFFFFFFF,
/// so that CRC32C("123456789") = 0xE3069283. Computed a byte at a time from a 256-entry table:
/// crc ← table[(crc ⊕ byte) & 0xFF] ⊕ (crc >> 8).
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes`.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotate right by 15 bits and add 0xA282EAD8 (mod 2³²), so that a
    /// CRC computed over bytes that contain CRCs does not degenerate.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
