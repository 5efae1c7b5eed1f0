import Engine
import Foundation

/// `tostring(t)` laid out as Torch7 prints tensors:
/// - one number format for the whole tensor, from the magnitudes of its values: integers as
///   `%Nd` (N = digits of the largest); otherwise `%N.4f`, with a common `scale *` line when
///   the magnitudes are all large or all small, or `%11.4e` when they span more than 4
///   orders of magnitude;
/// - a 1D tensor one value per line, a matrix one row per line (split into `Columns a to b`
///   blocks beyond 80 characters), higher dimensions as `(i,j,.,.) = ` matrices;
/// - then `[torch.FloatTensor of size 2x3]` and a newline.
enum TensorFormatter {
    /// Tensors with more elements print only their size line (Torch would print them all).
    static let maxPrintedElements = 1000

    struct NumberFormat {
        let width: Int
        let scale: Double?
        let render: (Double) -> String
    }

    static func format(_ t: Tensor, typeName: String = TensorBindings.className) -> String {
        if t.count == 0 { return "[\(typeName) with no dimension]\n" }
        let footer = "[\(typeName) of size \(shapeString(t.shape))]\n"
        if t.count > maxPrintedElements {
            return "(\(t.count) values not shown: index into the tensor, or use t:totable())\n" + footer
        }
        let values = t.scalars.map(Double.init)
        let f = numberFormat(values)
        let scale = f.scale ?? 1
        switch t.dim {
        case 0, 1:
            var out = f.scale.map { "\(g($0)) *\n" } ?? ""
            for v in values { out += f.render(v / scale) + "\n" }
            return out + footer
        case 2:
            return matrix(values, 0, rows: t.shape[0], cols: t.shape[1], f, indent: "") + footer
        default:
            let rows = t.shape[t.dim - 2], cols = t.shape[t.dim - 1]
            let lead = Array(t.shape[..<(t.dim - 2)])
            var out = ""
            for s in 0..<lead.reduce(1, *) {
                var rest = s, idx = [Int](repeating: 0, count: lead.count)
                for d in stride(from: lead.count - 1, through: 0, by: -1) {
                    idx[d] = rest % lead[d] + 1
                    rest /= lead[d]
                }
                if s > 0 { out += "\n" }
                out += "(" + idx.map { "\($0)," }.joined() + ".,.) = \n"
                out += matrix(values, s * rows * cols, rows: rows, cols: cols, f, indent: " ")
            }
            return out + footer
        }
    }

    private static func matrix(_ v: [Double], _ base: Int, rows: Int, cols: Int, _ f: NumberFormat, indent: String) -> String {
        let scale = f.scale ?? 1
        let perLine = max(1, (80 - indent.count) / (f.width + 1))
        var out = indent
        var first = 0
        while first < cols {
            let last = min(first + perLine, cols) - 1
            if perLine < cols {
                if first != 0 { out += "\n" }
                out += "Columns \(first + 1) to \(last + 1)\n" + indent
            }
            if let s = f.scale { out += "\(g(s)) *\n " + indent }
            for r in 0..<rows {
                out += (first...last).map { f.render(v[base + r * cols + $0] / scale) }.joined(separator: " ") + "\n"
                if r != rows - 1 { out += indent + (f.scale == nil ? "" : " ") }
            }
            first = last + 1
        }
        return out
    }

    /// Torch's choice of format from the smallest and largest magnitudes.
    static func numberFormat(_ values: [Double]) -> NumberFormat {
        let finite = values.filter { $0.isFinite }
        let integral = finite.allSatisfy { $0.rounded(.up) == $0 }
        let magnitudes = finite.map { Swift.abs($0) }
        func exponent(_ x: Double) -> Int { x == 0 ? 0 : Int(Foundation.floor(Foundation.log10(x))) + 1 }
        let expMin = exponent(magnitudes.min() ?? 0), expMax = exponent(magnitudes.max() ?? 0)
        func fixed(_ width: Int, _ decimals: Int, _ scale: Double? = nil) -> NumberFormat {
            NumberFormat(width: width, scale: scale) { x in
                x.isFinite ? String(format: "%\(width).\(decimals)f", x) : pad(x, width)
            }
        }
        func scientific(_ width: Int) -> NumberFormat {
            NumberFormat(width: width, scale: nil) { x in x.isFinite ? String(format: "%\(width).4e", x) : pad(x, width) }
        }
        if integral {
            return expMax > 9 ? scientific(11) : fixed(expMax + 1, 0)
        }
        if expMax - expMin > 4 {
            return scientific(Swift.abs(expMax) > 99 || Swift.abs(expMin) > 99 ? 12 : 11)
        }
        if expMax > 5 || expMax < 0 {
            let scale = Foundation.pow(10, Double(expMax - 1))
            return fixed(7, 4, scale == 1 ? nil : scale)
        }
        return fixed(expMax == 0 ? 7 : expMax + 6, 4)
    }

    private static func pad(_ x: Double, _ width: Int) -> String {
        let s = x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf")
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }

    /// `%g`, as Torch prints the scale.
    private static func g(_ x: Double) -> String { String(format: "%g", x) }
}
