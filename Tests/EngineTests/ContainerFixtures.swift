@testable import Engine

/// Small nets with table containers for the pruning, model-file and training tests.
enum ContainerFixtures {
    /// conv(1→4) → BN → ReLU → a basic block → an option-A block (4→8, stride 2) → View →
    /// Linear(8·4·4 → classes): a ResNet on 1×8×8 images, its weighted layers inside
    /// ConcatTables at depth 3. Layer numbers (`Pruning`: leaves depth first): 1 the conv,
    /// 4 and 7 the first block's convolutions (paths 4.1.1.1, 4.1.1.4), 12 and 15 the
    /// second's (5.1.1.1, 5.1.1.4), 24 the Linear; batch norms at 2, 5, 8, 13, 16.
    static func residualNet(classes: Int = 10, seed: UInt64 = 1) throws -> Sequential {
        GlobalRandom.seed(seed)
        func block(_ nIn: Int, _ nOut: Int, stride: Int) throws -> Sequential {
            let residual = Sequential([
                SpatialConvolution(nIn, nOut, 3, 3, stride, stride, 1, 1, bias: false), try SpatialBatchNormalization(nOut), ReLU(),
                SpatialConvolution(nOut, nOut, 3, 3, 1, 1, 1, 1, bias: false), try SpatialBatchNormalization(nOut),
            ])
            let shortcut: Module = nIn == nOut && stride == 1 ? Identity() : Sequential([
                SpatialAveragePooling(1, 1, stride, stride), ConcatTable([Identity(), MulConstant(0)]), try JoinTable(1, nInputDims: 3),
            ])
            return Sequential([ConcatTable([residual, shortcut]), CAddTable(inplace: true), ReLU()])
        }
        return Sequential([
            SpatialConvolution(1, 4, 3, 3, 1, 1, 1, 1, bias: false), try SpatialBatchNormalization(4), ReLU(),
            try block(4, 4, stride: 1), try block(4, 8, stride: 2),
            try View(8 * 4 * 4), Linear(8 * 4 * 4, classes),
        ])
    }
}
