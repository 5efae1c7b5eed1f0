/// A convolution followed by an elementwise activation f (nn.Tanh, nn.ReLU, nn.Sigmoid) in
/// evaluation, in one pass (ONNX Runtime fuses the same pair): the convolution's output
/// y = conv(x) is computed as `updateOutput` computes it, and the activation's output f(y) of
/// each image, or block of images, as soon as its y is written, while it is still in cache.
/// Run one after the other, f would read the whole batch's y back (LeNet-5's second layer
/// writes 9.6 MB at batch 250, more than the L2 caches hold). f is elementwise, so both
/// modules' outputs are those of their own passes, bit for bit; `Sequential` takes this path
/// for such a pair in evaluation.
extension SpatialConvolution {
    /// Whether `forward(_:then:)` applies to this layer followed by `next`: both in evaluation,
    /// `next` one of the activations the workbench defines (not a subclass from elsewhere).
    func fuses(_ next: Module) -> Bool {
        !isTraining && !next.isTraining && (next is Tanh || next is ReLU || next is Sigmoid)
    }

    /// `forward(input)`, then `activation.forward(output)`, in one pass over the images.
    func forward(_ input: Tensor, then activation: ElementwiseModule) throws -> Tensor {
        for p in parameters { try p.prepareForward(training: isTraining) }
        _ = try computeOutput(input, then: activation)
        return activation.output
    }
}

/// What a convolution's forward pass does with a range of images whose outputs are complete:
/// with an activation, its output for them, f(y[b]) for b in the range; else nothing.
struct ImagesFinished {
    private let activation: ElementwiseModule?
    private let y: UnsafeMutablePointer<Float>?, a: UnsafeMutablePointer<Float>?
    /// Outputs per image.
    private let size: Int

    /// Sizes `activation`'s output as y (the convolution's output, sized already).
    init(_ activation: ElementwiseModule?, y: Tensor, p: Int) {
        self.activation = activation
        size = p
        if let activation {
            _ = activation.output.resize(y.shape)
            self.y = y.data
            a = activation.output.data
        } else {
            self.y = nil
            a = nil
        }
    }

    func callAsFunction(_ images: Range<Int>) {
        guard let activation, let y, let a, !images.isEmpty else { return }
        let o = images.lowerBound * size
        activation.apply(y + o, a + o, images.count * size)
    }
}
