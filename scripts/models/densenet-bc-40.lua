-- densenet-bc-40 for CIFAR-10: densenet-bc.lua with (40); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/densenet-bc.lua'))(40)
