-- densenet-bc-100 for CIFAR-10: densenet-bc.lua with (100); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/densenet-bc.lua'))(100)
