print("dxkit")
