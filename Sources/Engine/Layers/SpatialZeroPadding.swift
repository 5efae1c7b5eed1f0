/// Pads (or, with negative sizes, crops) the last two dimensions with zeros (Torch's
/// nn.SpatialZeroPadding(padLeft [, padRight, padTop, padBottom]), the missing ones equal to
/// padLeft): y[…, i, j] = x[…, i − t, j − l] where that is inside x, else 0; the output is
/// (H + t + b) × (W + l + r). ∂L/∂x[…, i, j] = ∂L/∂y[…, i + t, j + l] where that is inside y.
public final class SpatialZeroPadding: Module {
    public let padLeft: Int, padRight: Int, padTop: Int, padBottom: Int

    public init(_ l: Int, _ r: Int? = nil, _ t: Int? = nil, _ b: Int? = nil) {
        padLeft = l; padRight = r ?? l; padTop = t ?? l; padBottom = b ?? l
        super.init()
    }

    override public var typeName: String { "nn.SpatialZeroPadding" }

    private func geometry(_ input: Tensor) throws -> (planes: Int, h: Int, w: Int, oh: Int, ow: Int) {
        try checkRank(input, [3, 4], description)
        let h = input.shape[input.dim - 2], w = input.shape[input.dim - 1]
        let oh = h + padTop + padBottom, ow = w + padLeft + padRight
        guard oh >= 1 && ow >= 1 else {
            throw EngineError("\(description): the \(h)x\(w) input would become \(oh)x\(ow)")
        }
        return (input.count / (h * w), h, w, oh, ow)
    }

    /// Copies the overlap of every input plane and its output plane, one way or the other.
    private func transfer(_ g: (planes: Int, h: Int, w: Int, oh: Int, ow: Int), _ small: UnsafeMutablePointer<Float>,
                          _ big: UnsafeMutablePointer<Float>, toOutput: Bool) {
        let i0 = max(0, -padTop), i1 = min(g.h, g.oh - padTop)
        let j0 = max(0, -padLeft), j1 = min(g.w, g.ow - padLeft)
        guard i0 < i1 && j0 < j1 else { return }
        for p in 0..<g.planes {
            for i in i0..<i1 {
                let x = small + p * g.h * g.w + i * g.w + j0
                let y = big + p * g.oh * g.ow + (i + padTop) * g.ow + j0 + padLeft
                if toOutput { y.update(from: x, count: j1 - j0) } else { x.update(from: y, count: j1 - j0) }
            }
        }
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let g = try geometry(input)
        var s = input.shape
        s[s.count - 2] = g.oh; s[s.count - 1] = g.ow
        output.resize(s)
        output.zero()
        transfer(g, input.data, output.data, toOutput: true)
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let g = try geometry(input)
        guard gradOutput.count == g.planes * g.oh * g.ow else {
            throw EngineError("\(description): gradOutput has size \(shapeString(gradOutput.shape)), the output \(g.oh)x\(g.ow) planes")
        }
        gradInput.resize(input.shape)
        gradInput.zero()
        transfer(g, gradInput.data, gradOutput.data, toOutput: false)
        return gradInput
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [padLeft, padRight, padTop, padBottom].map(Double.init))
    }

    override public var description: String { "\(typeName)(l=\(padLeft), r=\(padRight), t=\(padTop), b=\(padBottom))" }
}
