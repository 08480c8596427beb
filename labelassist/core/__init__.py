"""labelassist.core"""
