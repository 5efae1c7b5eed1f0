-- wrn-16-4 for CIFAR-10: wide-resnet.lua with (16,4); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/wide-resnet.lua'))(16,4)
