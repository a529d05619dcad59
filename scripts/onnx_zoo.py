"""Small ONNX graphs built with onnx.helper for dxkit's import tests (scripts/onnx_test_models.py):
two operation zoos with seeded random weights that take the operations and attributes the exported
networks do not, and a graph dxkit must refuse."""
import numpy as np


def zoo(path, opset, seed=7):
    """A small graph built with onnx.helper that takes the operations and attributes the exported
    networks do not: LeakyRelu, standalone Pad, MaxPool ceil_mode, dilated and grouped convolutions,
    a depthwise convolution with a channel multiplier, HardSwish, Sigmoid, a squeeze-and-excitation
    gate (ReduceMean, HardSigmoid, broadcast Mul), Sub of a per-channel constant, Concat, BatchNorm
    after a Concat, Clip(0, 6), AveragePool with count_include_pad=1 and with ceil_mode, MatMul, Add
    of a bias, Gemm with alpha/beta, Softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    inits = []

    def w(name, *shape, scale=None):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = rng.standard_normal(shape).astype(np.float32) * np.float32(scale if scale is not None else 1 / np.sqrt(fan))
        inits.append(numpy_helper.from_array(a, name))
        return name

    def const(name, values, dtype=np.int64):
        inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def bn(prefix, c):
        return [w(prefix + ".g", c, scale=0.3), w(prefix + ".b", c, scale=0.2), w(prefix + ".m", c, scale=0.2),
                const(prefix + ".v", 0.5 + rng.random(c), np.float32)]

    N = helper.make_node
    nodes = [
        N("Conv", ["input", w("c1.w", 8, 3, 4, 4), w("c1.b", 8, scale=0.1)], ["c1"], name="stem", strides=[4, 4]),
        N("LeakyRelu", ["c1"], ["a1"], name="leaky", alpha=0.1),
        N("Pad", ["a1", const("p1.pads", [0, 0, 1, 1, 0, 0, 1, 1])], ["p1"], name="pad"),
        N("MaxPool", ["p1"], ["m1"], name="maxpool_ceil", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        N("Conv", ["m1", w("g1.w", 16, 4, 3, 3), w("g1.b", 16, scale=0.1)], ["g1"], name="grouped_dilated", group=2,
          pads=[2, 2, 2, 2], dilations=[2, 2]),
        N("HardSwish", ["g1"], ["h1"], name="hardswish"),
        N("Conv", ["h1", w("d1.w", 32, 1, 3, 3)], ["d1"], name="depthwise_x2", group=16, strides=[2, 2], pads=[1, 1, 1, 1]),
        N("BatchNormalization", ["d1"] + bn("bn1", 32), ["b1"], name="bn_folded"),
        N("Sigmoid", ["b1"], ["s1"], name="sigmoid"),
        N("ReduceMean", ["s1"], ["r1"], name="se_mean", axes=[2, 3], keepdims=1),
        N("Conv", ["r1", w("se.w", 32, 32, 1, 1), w("se.b", 32, scale=0.1)], ["f1"], name="se_conv"),
        N("HardSigmoid", ["f1"], ["hs"], name="se_gate", alpha=0.25, beta=0.5),
        N("Mul", ["s1", "hs"], ["mu"], name="se_mul"),
        N("Sub", ["mu", w("sub.c", 1, 32, 1, 1, scale=0.1)], ["su"], name="sub_const"),
        N("Concat", ["su", "s1"], ["cat"], name="concat", axis=1),
        N("BatchNormalization", ["cat"] + bn("bn2", 64), ["b2"], name="bn_affine"),
        N("Clip", ["b2", const("zero", 0.0, np.float32), const("six", 6.0, np.float32)], ["r6"], name="relu6"),
        N("AveragePool", ["r6"], ["ap"], name="avg_include_pad", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
          count_include_pad=1),
        N("AveragePool", ["ap"], ["ap2"], name="avg_ceil", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        N("GlobalAveragePool", ["ap2"], ["gap"], name="gap"),
        N("Flatten", ["gap"], ["fl"], name="flatten", axis=1),
        N("MatMul", ["fl", w("mm.w", 64, 20)], ["mm"], name="matmul"),
        N("Add", ["mm", w("mm.b", 20, scale=0.1)], ["ad"], name="bias"),
        N("Gemm", ["ad", w("gm.w", 10, 20), w("gm.c", 10, scale=0.1)], ["gm"], name="gemm", transB=1, alpha=0.5, beta=2.0),
        N("Softmax", ["gm"], ["output"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(nodes, "zoo", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx_test_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def zoo2(path, opset, seed=8):
    """A second operation zoo: auto_pad SAME_UPPER/SAME_LOWER/VALID, a rectangular (1x3) kernel, average
    pooling that excludes its padding, a standalone Relu after a Concat, an Add of two maps with its
    Relu, Identity, Dropout, an identity Transpose, Squeeze/Unsqueeze of [N, C, 1, 1], and a Reshape to
    [N, -1] computed from Shape (Shape → Gather → Unsqueeze → Concat)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    inits = []

    def w(name, *shape, scale=None):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = rng.standard_normal(shape).astype(np.float32) * np.float32(scale if scale is not None else 1 / np.sqrt(fan))
        inits.append(numpy_helper.from_array(a, name))
        return name

    def const(name, values, dtype=np.int64):
        inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    N = helper.make_node
    nodes = [
        N("Conv", ["input", w("a.w", 8, 3, 3, 3), w("a.b", 8, scale=0.1)], ["a"], name="same_upper_s2", strides=[2, 2],
          auto_pad="SAME_UPPER"),
        N("MaxPool", ["a"], ["b"], name="maxpool_same_lower", kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_LOWER"),
        N("Conv", ["b", w("c.w", 8, 8, 1, 3)], ["c"], name="rect_1x3", pads=[0, 1, 0, 1]),
        N("Conv", ["b", w("d.w", 8, 8, 3, 3), w("d.b", 8, scale=0.1)], ["d"], name="valid_3x3", auto_pad="VALID"),
        N("Pad", ["d", const("d.pads", [0, 0, 1, 1, 0, 0, 1, 1])], ["dp"], name="pad_back"),
        N("Add", ["c", "dp"], ["e"], name="add_maps"),
        N("Relu", ["e"], ["f"], name="relu_after_add"),
        N("Concat", ["f", "b"], ["g"], name="concat", axis=1),
        N("Relu", ["g"], ["h"], name="relu_alone"),
        N("Identity", ["h"], ["h2"], name="identity"),
        N("Dropout", ["h2"], ["h3"], name="dropout"),
        N("Transpose", ["h3"], ["h4"], name="transpose_identity", perm=[0, 1, 2, 3]),
        N("AveragePool", ["h4"], ["i"], name="avg_exclude_pad", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
          count_include_pad=0),
        N("GlobalAveragePool", ["i"], ["j"], name="gap"),
        N("Squeeze", ["j", const("axes23", [2, 3])], ["k"], name="squeeze"),
        N("Unsqueeze", ["k", const("axes23b", [2, 3])], ["l"], name="unsqueeze"),
        N("Shape", ["l"], ["sh"], name="shape"),
        N("Gather", ["sh", const("zero", 0)], ["n0"], name="gather", axis=0),
        N("Unsqueeze", ["n0", const("axis0", [0])], ["n1"], name="unsqueeze_n"),
        N("Concat", ["n1", const("minus1", [-1])], ["target"], name="concat_shape", axis=0),
        N("Reshape", ["l", "target"], ["m"], name="reshape"),
        N("Gemm", ["m", w("fc.w", 7, 16), w("fc.b", 7, scale=0.1)], ["output"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "zoo2", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 7])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx_test_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def unsupported(path):
    """A graph dxkit must refuse: an Erf node (named "gelu_erf") after a convolution."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
             helper.make_node("Erf", ["c"], ["e"], name="gelu_erf"),
             helper.make_node("GlobalAveragePool", ["e"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["output"], name="flatten")]
    graph = helper.make_graph(nodes, "unsupported", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
