"""brushwork's GIMP 3 filter: the plug-in that runs in GIMP's Python, its worker and its installer."""
