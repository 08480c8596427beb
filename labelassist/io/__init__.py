"""labelassist.io"""
