#include "api/fcgi.h"
