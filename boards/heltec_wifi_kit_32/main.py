from zerotap.runtime.boot import main  # MicroPython runs main.py at every boot, after boot.py
main(__import__("board"))  # this board: boards/<name>/board.py, deployed as board.mpy
