"""Learned models on tables and arrays (GAN, VAE, regressor). Knows no simpy."""
