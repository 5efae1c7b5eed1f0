import Engine

/// `nn.<Name>(...)` for every Engine module, with Torch7's constructor signatures. Adding a
/// module to Lua is one entry here. Sizes are checked before the Engine allocates anything,
/// so bad arguments give Lua errors, never a crash.
enum ModuleConstructors {
    static let table: [String: (LuaCall) throws -> Module] = [
        // nn.Sequential()
        "Sequential": { _ in Sequential() },
        // nn.ConcatTable(), nn.ParallelTable(): containers giving a table (Container.swift)
        "ConcatTable": { _ in ConcatTable() },
        "ParallelTable": { _ in ParallelTable() },
        // nn.CAddTable([ip = false]), nn.CMulTable()
        "CAddTable": { a in CAddTable(inplace: try a.boolean(1, default: false)) },
        "CMulTable": { _ in CMulTable() },
        // nn.JoinTable(dimension [, nInputDims])
        "JoinTable": { a in try JoinTable(try a.integer(1), nInputDims: try a.optionalInteger(2)) },
        // nn.SelectTable(index), negative from the end
        "SelectTable": { a in try SelectTable(try a.integer(1)) },
        // nn.Narrow(dimension, offset [, length = 1])
        "Narrow": { a in try Narrow(try a.integer(1), try a.integer(2), try a.optionalInteger(3) ?? 1) },
        // nn.SpatialAveragePooling(kW, kH [, dW = 1, dH = 1, padW = 0, padH = 0]); :ceil(), :setCountExcludePad()
        "SpatialAveragePooling": { a in
            let kW = try a.size(1), kH = try a.size(2)
            let padW = try a.optionalPadding(5) ?? 0, padH = try a.optionalPadding(6) ?? 0
            guard padW <= kW / 2, padH <= kH / 2 else {
                throw a.error("padding (\(padW),\(padH)) must be at most half the kernel size (\(kW)x\(kH))")
            }
            return SpatialAveragePooling(kW, kH, try a.optionalSize(3) ?? 1, try a.optionalSize(4) ?? 1, padW, padH)
        },
        // nn.GlobalAveragePooling(): each plane's mean (PyTorch's AdaptiveAvgPool2d(1))
        "GlobalAveragePooling": { _ in GlobalAveragePooling() },
        // nn.SpatialZeroPadding(padLeft [, padRight, padTop, padBottom]); negative crops
        "SpatialZeroPadding": { a in
            let l = try a.integer(1)
            return SpatialZeroPadding(l, try a.optionalInteger(2), try a.optionalInteger(3), try a.optionalInteger(4))
        },
        // nn.MulConstant(constant [, ip = false])
        "MulConstant": { a in MulConstant(try a.float(1), inplace: try a.boolean(2, default: false)) },
        // nn.Linear(inputSize, outputSize [, bias = true])
        "Linear": { a in
            let i = try a.size(1), o = try a.size(2)
            try a.checkParameterCount(i, o)
            return Linear(i, o, bias: try a.boolean(3, default: true))
        },
        // nn.SpatialConvolution(nInputPlane, nOutputPlane, kW, kH [, dW = 1, dH = 1, padW = 0, padH = 0, bias = true])
        "SpatialConvolution": { a in
            let nIn = try a.size(1), nOut = try a.size(2), kW = try a.size(3), kH = try a.size(4)
            try a.checkParameterCount(nIn, nOut, kW, kH)
            return SpatialConvolution(nIn, nOut, kW, kH, try a.optionalSize(5) ?? 1, try a.optionalSize(6) ?? 1,
                                      try a.optionalPadding(7) ?? 0, try a.optionalPadding(8) ?? 0, bias: try a.boolean(9, default: true))
        },
        // nn.SpatialMaxPooling(kW, kH [, dW = kW, dH = kH, padW = 0, padH = 0]); :ceil() / :floor()
        "SpatialMaxPooling": { a in
            let kW = try a.size(1), kH = try a.size(2)
            let padW = try a.optionalPadding(5) ?? 0, padH = try a.optionalPadding(6) ?? 0
            guard padW <= kW / 2, padH <= kH / 2 else {
                throw a.error("padding (\(padW),\(padH)) must be at most half the kernel size (\(kW)x\(kH))")
            }
            return SpatialMaxPooling(kW, kH, try a.optionalSize(3), try a.optionalSize(4), padW, padH)
        },
        "Tanh": { _ in Tanh() },
        "Sigmoid": { _ in Sigmoid() },
        // nn.ReLU([inplace = false]): inplace is accepted; the output is always its own buffer
        "ReLU": { a in ReLU(inplace: try a.boolean(1, default: false)) },
        "Identity": { _ in Identity() },
        "SoftMax": { _ in SoftMax() },
        "LogSoftMax": { _ in LogSoftMax() },
        // nn.View(sizes...) or nn.View(torch.LongStorage{...}); one size may be -1; :setNumInputDims(n)
        "View": { a in try View(try a.sizes(from: 1, allowInferred: true)) },
        // nn.Reshape(sizes... [, batchMode])
        "Reshape": { a in
            var sizes: [Int] = [], k = 1
            if a.isTable(1) { sizes = try a.integerArray(1); k = 2 } else {
                while a.isNumber(k) { sizes.append(try a.size(k)); k += 1 }
            }
            let batchMode: Bool? = a.isNoneOrNil(k) ? nil : try a.boolean(k, default: false)
            try a.checkParameterCount(sizes.map { max($0, 0) } )
            return try Reshape(sizes, batchMode: batchMode)
        },
        // nn.Dropout([p = 0.5, v1 = false, inplace = false])
        "Dropout": { a in
            try Dropout(try a.optionalNumber(1) ?? 0.5, v1: try a.boolean(2, default: false), inplace: try a.boolean(3, default: false))
        },
        // nn.BatchNormalization(nOutput [, eps = 1e-5, momentum = 0.1, affine = true])
        "BatchNormalization": { a in
            let n = try a.size(1)
            try a.checkParameterCount(n)
            return try BatchNormalization(n, eps: try a.optionalNumber(2) ?? 1e-5, momentum: try a.optionalNumber(3) ?? 0.1,
                                          affine: try a.boolean(4, default: true))
        },
        // nn.SpatialBatchNormalization(nOutput [, eps = 1e-5, momentum = 0.1, affine = true])
        "SpatialBatchNormalization": { a in
            let n = try a.size(1)
            try a.checkParameterCount(n)
            return try SpatialBatchNormalization(n, eps: try a.optionalNumber(2) ?? 1e-5, momentum: try a.optionalNumber(3) ?? 0.1,
                                                 affine: try a.boolean(4, default: true))
        },
    ]
}

extension LuaCall {
    /// A size argument: an integer ≥ 1.
    func size(_ i: Int) throws -> Int { try integer(i, atLeast: 1) }
    func optionalSize(_ i: Int) throws -> Int? { isNoneOrNil(i) ? nil : try size(i) }
    /// A padding argument: an integer ≥ 0.
    func optionalPadding(_ i: Int) throws -> Int? { isNoneOrNil(i) ? nil : try integer(i, atLeast: 0) }

    /// Refuses weight tensors too large to allocate (their product of sizes).
    func checkParameterCount(_ sizes: Int...) throws { try checkParameterCount(sizes) }
    func checkParameterCount(_ sizes: [Int]) throws {
        try TensorBindings.checkElementCount(sizes, call: self)
    }
}
