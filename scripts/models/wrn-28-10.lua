-- wrn-28-10 for CIFAR-10: wide-resnet.lua with (28,10); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/wide-resnet.lua'))(28,10)
